//! Untrusted text on a GitHub Actions log cannot run workflow commands.
//!
//! The runner reads `::command::` lines (and the older `##[command]`) on
//! both streams of a step, after trimming leading blanks, so a test's output
//! echoed under its status line could add annotations, mask values or stop
//! the log. Where sockcheck prints text that holds such lines on GitHub
//! Actions (`GITHUB_ACTIONS=true`), it wraps it in `::stop-commands::TOKEN`
//! ... `::TOKEN::`, with a fresh random token the text cannot guess; names
//! are kept to one line elsewhere (`sockcheck::report::visible`).

use std::hash::{BuildHasher, Hasher};

/// True on GitHub Actions, whose runner reads workflow commands.
pub fn on_github_actions() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// `text` as it may be printed on this run's log: on GitHub Actions, when a
/// line of it would be read as a workflow command, wrapped so that none is.
pub fn guarded(text: Vec<u8>) -> Vec<u8> {
    if on_github_actions() {
        wrap(text)
    } else {
        text
    }
}

/// [`guarded`] for stdout, unless stdout is a regular file (`--format
/// markdown > report.md`), which the runner does not read.
pub fn guarded_stdout(text: Vec<u8>) -> Vec<u8> {
    use std::os::fd::AsFd;
    let to_file = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|file| file.metadata())
        .is_ok_and(|metadata| metadata.is_file());
    if to_file {
        text
    } else {
        guarded(text)
    }
}

/// `text` between `::stop-commands::TOKEN` and `::TOKEN::` when a line of
/// it would be a workflow command; as it is otherwise.
fn wrap(text: Vec<u8>) -> Vec<u8> {
    if !text.split(|b| *b == b'\n').any(is_command) {
        return text;
    }
    let token = loop {
        let token = random_token();
        if !contains(&text, token.as_bytes()) {
            break token;
        }
    };
    let mut wrapped = format!("::stop-commands::{token}\n").into_bytes();
    wrapped.extend_from_slice(&text);
    if !text.ends_with(b"\n") {
        wrapped.push(b'\n');
    }
    wrapped.extend_from_slice(format!("::{token}::\n").as_bytes());
    wrapped
}

/// True for a line the runner would take as a command: `::` or `##[`
/// after leading blanks (a CR included).
fn is_command(line: &[u8]) -> bool {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let line = &line[start..];
    line.starts_with(b"::") || line.starts_with(b"##[")
}

fn contains(text: &[u8], needle: &[u8]) -> bool {
    text.windows(needle.len()).any(|w| w == needle)
}

/// 128 random bits in hex, from the standard library's randomly keyed
/// hasher (seeded by the OS): unknown to a test that ran before it.
fn random_token() -> String {
    let half = |i: u8| {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u8(i);
        hasher.finish()
    };
    format!("sockcheck-{:016x}{:016x}", half(0), half(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_a_command_line_is_wrapped_with_a_fresh_token() {
        let text = b"    FAIL net::a\n         \r::error::pwned\n".to_vec();
        let wrapped = String::from_utf8(wrap(text.clone())).unwrap();
        let lines: Vec<&str> = wrapped.lines().collect();
        let token = lines[0].strip_prefix("::stop-commands::").unwrap();
        assert_eq!(token.len(), "sockcheck-".len() + 32);
        assert_eq!(
            lines[1..3].join("\n") + "\n",
            String::from_utf8(text).unwrap()
        );
        assert_eq!(lines[3], format!("::{token}::"));
        let again = String::from_utf8(wrap(b"##[error]x".to_vec())).unwrap();
        let lines: Vec<&str> = again.lines().collect();
        assert_eq!(lines.len(), 3, "{again}");
        assert!(lines[0].starts_with("::stop-commands::") && !again.contains(token));
        assert_eq!(lines[1], "##[error]x");
    }

    #[test]
    fn text_without_one_is_left_as_it_is() {
        let text = b"    LEAK net::a\n         error listen: tcp ::1:80 LISTEN\n".to_vec();
        assert_eq!(wrap(text.clone()), text);
    }
}
