//! Reading the files a run is handed (configuration files and their
//! includes, baselines, reports to merge or compare), which a pull request
//! may have put there: regular files only, of bounded size, so that a FIFO
//! cannot hang a run and `/dev/zero` cannot fill its memory.

use std::io::{self, Read};
use std::path::Path;

/// The most bytes read from one file: far more than any configuration,
/// baseline or report holds (a report keeps a few KiB of output per
/// failing test), far less than a machine's memory.
pub const MAX_BYTES: u64 = 256 << 20;

/// The text of the regular file `path`. A FIFO, a device, a directory, a
/// file of more than [`MAX_BYTES`] or one that is not UTF-8 is an error
/// saying which, without waiting on or reading more of it.
pub fn read_to_string(path: &Path) -> io::Result<String> {
    read_capped(path, MAX_BYTES)
}

fn read_capped(path: &Path, max: u64) -> io::Result<String> {
    // Asked before opening: opening a FIFO waits for a writer.
    if !std::fs::metadata(path)?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a FIFO, a device or a directory): give the path of a file",
        ));
    }
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {} MiB, more than sockcheck reads", max >> 20),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_are_read_and_anything_else_refused() {
        let dir = std::env::temp_dir().join(format!("sockcheck-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.toml");
        std::fs::write(&file, "linger-ms = 1\n").unwrap();
        assert_eq!(read_to_string(&file).unwrap(), "linger-ms = 1\n");
        for other in [Path::new("/dev/zero"), dir.as_path()] {
            let error = read_to_string(other).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{other:?}");
            assert!(
                error.to_string().starts_with("not a regular file"),
                "{error}"
            );
        }
        std::fs::write(&file, "x".repeat(2 << 20)).unwrap();
        let error = read_capped(&file, 1 << 20).unwrap_err();
        assert_eq!(
            error.to_string(),
            "larger than 1 MiB, more than sockcheck reads"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
