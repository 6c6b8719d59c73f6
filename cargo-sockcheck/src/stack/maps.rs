//! The files a process has mapped, from `/proc/PID/maps`: where each one
//! lies in the process's address space.

use std::collections::{HashMap, HashSet};
use std::io;
use std::ops::Range;
use std::path::PathBuf;

/// One file-backed line of `/proc/PID/maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// Its addresses in the process.
    pub range: Range<u64>,
    /// The offset in the file it starts at.
    pub offset: u64,
    /// The file's device and inode: tells a rebuilt file from the old one.
    pub file_id: (String, u64),
    /// The file.
    pub path: PathBuf,
    /// Mapped executable: holds code.
    pub executable: bool,
}

/// The file-backed mappings of process `pid`, in address order.
pub fn read(pid: libc::pid_t) -> io::Result<Vec<Mapping>> {
    Ok(parse(&std::fs::read_to_string(format!(
        "/proc/{pid}/maps"
    ))?))
}

/// Parses the text of `/proc/PID/maps`, keeping lines backed by a file that
/// still exists (not `[stack]`, `[vdso]`, anonymous or deleted mappings).
pub fn parse(maps: &str) -> Vec<Mapping> {
    maps.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<Mapping> {
    // start-end perms offset dev inode path (the path may hold spaces)
    let mut fields = line.splitn(6, ' ');
    let (start, end) = fields.next()?.split_once('-')?;
    let perms = fields.next()?;
    let offset = fields.next()?;
    let device = fields.next()?;
    let inode: u64 = fields.next()?.parse().ok()?;
    let path = fields.next()?.trim_start();
    if inode == 0 || !path.starts_with('/') || path.ends_with(" (deleted)") {
        return None;
    }
    Some(Mapping {
        range: u64::from_str_radix(start, 16).ok()?..u64::from_str_radix(end, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        file_id: (device.to_owned(), inode),
        path: PathBuf::from(path),
        executable: perms.contains('x'),
    })
}

/// The mappings grouped by file, for files with code: each file's lowest
/// mapping and the whole address range its mappings span, in address order.
pub fn code_files(mappings: &[Mapping]) -> Vec<(Mapping, Range<u64>)> {
    let with_code: HashSet<&(String, u64)> = mappings
        .iter()
        .filter(|m| m.executable)
        .map(|m| &m.file_id)
        .collect();
    let mut files: HashMap<&(String, u64), (Mapping, Range<u64>)> = HashMap::new();
    for mapping in mappings.iter().filter(|m| with_code.contains(&m.file_id)) {
        files
            .entry(&mapping.file_id)
            .and_modify(|(lowest, span)| {
                if mapping.range.start < lowest.range.start {
                    *lowest = mapping.clone();
                }
                span.start = span.start.min(mapping.range.start);
                span.end = span.end.max(mapping.range.end);
            })
            .or_insert_with(|| (mapping.clone(), mapping.range.clone()));
    }
    let mut files: Vec<_> = files.into_values().collect();
    files.sort_by_key(|(_, span)| span.start);
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &str = "\
5581c0a00000-5581c0a4c000 r--p 00000000 fd:01 1315 /work/target/debug/deps/net-1a2b
5581c0a4c000-5581c0e00000 r-xp 0004c000 fd:01 1315 /work/target/debug/deps/net-1a2b
5581c0e00000-5581c0e40000 r--p 00400000 fd:01 1315 /work/target/debug/deps/net-1a2b
5581c1e4b000-5581c1e6c000 rw-p 00000000 00:00 0 [heap]
7f2a3c000000-7f2a3c021000 rw-p 00000000 00:00 0 
7f2a3d300000-7f2a3d400000 r--p 00000000 fd:01 777 /usr/lib/locale/locale-archive
7f2a3d428000-7f2a3d450000 r--p 00000000 fd:01 2231 /usr/lib/x86_64-linux-gnu/libc.so.6
7f2a3d450000-7f2a3d5e5000 r-xp 00028000 fd:01 2231 /usr/lib/x86_64-linux-gnu/libc.so.6
7f2a3d700000-7f2a3d701000 r-xp 00000000 fd:01 99 /tmp/old build (deleted)
7f2a3d800000-7f2a3d801000 r-xp 00000000 fd:01 98 /tmp/dir with space/lib.so
7ffd1b5fe000-7ffd1b600000 r-xp 00000000 00:00 0 [vdso]
";

    #[test]
    fn only_existing_files_are_kept_and_paths_may_hold_spaces() {
        let mappings = parse(MAPS);
        let paths: Vec<_> = mappings.iter().map(|m| m.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/work/target/debug/deps/net-1a2b",
                "/work/target/debug/deps/net-1a2b",
                "/work/target/debug/deps/net-1a2b",
                "/usr/lib/locale/locale-archive",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/tmp/dir with space/lib.so",
            ]
        );
        assert_eq!(mappings[1].range, 0x5581c0a4c000..0x5581c0e00000);
        assert_eq!(mappings[1].offset, 0x4c000);
        assert_eq!(mappings[1].file_id, ("fd:01".to_owned(), 1315));
        assert!(!mappings[0].executable && mappings[1].executable);
    }

    #[test]
    fn code_files_span_all_their_mappings_and_keep_their_lowest_one() {
        let files = code_files(&parse(MAPS));
        // Not the locale archive: no code in it.
        assert_eq!(files.len(), 3);
        let (lowest, span) = &files[0];
        assert_eq!(lowest.range.start, 0x5581c0a00000);
        assert_eq!(lowest.offset, 0);
        assert_eq!(span, &(0x5581c0a00000..0x5581c0e40000));
        assert_eq!(files[1].1, 0x7f2a3d428000..0x7f2a3d5e5000);
    }

    #[test]
    fn our_own_maps_hold_our_executable() {
        let own = read(std::process::id() as libc::pid_t).unwrap();
        let exe = std::env::current_exe().unwrap();
        assert!(own.iter().any(|m| m.path == exe), "{own:?}");
    }
}
