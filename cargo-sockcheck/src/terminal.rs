//! Colour on the terminal, decided once for the whole run as cargo decides
//! it: `--color` first, then `CARGO_TERM_COLOR`, then `auto`, where each
//! stream is coloured only if it is a terminal and `NO_COLOR` is unset
//! (anstream's rules: `NO_COLOR`, `CLICOLOR`, `CLICOLOR_FORCE`, `TERM=dumb`).
//!
//! Everything printed for people goes through `anstream::stdout()` and
//! `anstream::stderr()`, which drop the styles when colour is off. Files and
//! the JSON, Markdown and JUnit renderings never carry styles at all.

use crate::cli::ColorWhen;
use anstream::ColorChoice;
use anyhow::{bail, Result};

/// Sets the colour choice for every stream this process prints to, from
/// `flag` (`--color`) or else `CARGO_TERM_COLOR`.
pub fn choose_colour(flag: Option<ColorWhen>) -> Result<()> {
    let env = std::env::var("CARGO_TERM_COLOR").ok();
    colour_choice(flag, env.as_deref())?.write_global();
    Ok(())
}

/// `error:` as cargo shows it: bold red when stderr is coloured.
const ERROR: anstyle::Style = anstyle::Style::new()
    .bold()
    .fg_color(Some(anstyle::Color::Ansi(anstyle::AnsiColor::Red)));

/// Prints `error: MESSAGE` on stderr, sockcheck's own failure in one line,
/// with `error:` coloured as cargo colours it when stderr is coloured.
pub fn print_error(message: impl std::fmt::Display) {
    anstream::eprintln!("{ERROR}error:{ERROR:#} {message}");
}

/// `--color=always` or `--color=never` for the cargo this run starts, so
/// that cargo's own lines on stderr follow the same choice as sockcheck's.
pub fn cargo_colour_flag() -> &'static str {
    match anstream::AutoStream::choice(&std::io::stderr()) {
        ColorChoice::Never => "--color=never",
        _ => "--color=always",
    }
}

/// The choice `flag` and the value of `CARGO_TERM_COLOR` make; a value
/// cargo would not take is an error.
fn colour_choice(flag: Option<ColorWhen>, env: Option<&str>) -> Result<ColorChoice> {
    let when = match (flag, env) {
        (Some(when), _) => when,
        (None, None | Some("")) => ColorWhen::Auto,
        (None, Some("auto")) => ColorWhen::Auto,
        (None, Some("always")) => ColorWhen::Always,
        (None, Some("never")) => ColorWhen::Never,
        (None, Some(other)) => bail!(
            "CARGO_TERM_COLOR={other} is not a colour choice: set it to auto, always or never"
        ),
    };
    Ok(match when {
        ColorWhen::Auto => ColorChoice::Auto,
        ColorWhen::Always => ColorChoice::Always,
        ColorWhen::Never => ColorChoice::Never,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment_which_wins_over_auto() {
        let choice = |flag, env| colour_choice(flag, env).unwrap();
        assert_eq!(
            choice(Some(ColorWhen::Never), Some("always")),
            ColorChoice::Never
        );
        assert_eq!(choice(Some(ColorWhen::Always), None), ColorChoice::Always);
        assert_eq!(choice(None, Some("always")), ColorChoice::Always);
        assert_eq!(choice(None, Some("never")), ColorChoice::Never);
        assert_eq!(choice(None, Some("")), ColorChoice::Auto);
        assert_eq!(choice(None, None), ColorChoice::Auto);
    }

    #[test]
    fn a_value_cargo_would_not_take_is_a_clear_error() {
        let error = colour_choice(None, Some("blue")).unwrap_err().to_string();
        assert_eq!(
            error,
            "CARGO_TERM_COLOR=blue is not a colour choice: set it to auto, always or never"
        );
    }
}
