//! Symbolizing: a [`RawStack`] of addresses becomes a
//! [`sockcheck::site::Origin`] of frames with function, file, line and
//! column, inlined calls expanded (innermost first), and the innermost frame
//! in the project's own source named as the site.
//!
//! Debug info comes from `addr2line` (DWARF line tables and inline chains),
//! the ELF symbol table names what has no DWARF (libc, binaries built
//! without debug info). Each file is loaded once and each address looked up
//! once per [`Symbolizer`]: a suite's test processes share their binary.
//! Each file's build roots (the compilation directories of its workspace
//! packages) are read with it, for `project` to find today's counterpart
//! of a file named by a build made in another checkout.

use super::project::{Place, ProjectSource};
use super::RawStack;
use addr2line::gimli;
use addr2line::Loader;
use object::{Object, ObjectSection, ReadCache};
use sockcheck::site::{Frame, Origin};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The note on an origin whose site (or, without a site, whose program)
/// has no line tables.
pub const LINES_NEED_DEBUG_INFO: &str = "lines need debug info";

/// Turns raw stacks into origins, caching each file's debug info and each
/// address's frames.
pub struct Symbolizer {
    project: ProjectSource,
    modules: HashMap<Arc<Path>, Module>,
}

/// One mapped file's debug info and the frames already found in it.
struct Module {
    /// The file.
    path: Arc<Path>,
    /// Its debug info and symbols, or why the file could not be read.
    loader: Result<Loader, String>,
    /// True when it has DWARF line tables (`.debug_line`).
    has_line_tables: bool,
    /// Where its workspace packages were compiled (see [`build_roots`]),
    /// read the first time a frame's file is not found by its path alone.
    build_roots: OnceCell<Vec<PathBuf>>,
    /// The build roots of project files it names that are found nowhere.
    lost_in: BTreeSet<PathBuf>,
    /// Frames found at each looked-up address, innermost first.
    frames: HashMap<u64, Vec<Frame>>,
}

impl Symbolizer {
    /// A symbolizer naming sites in `project`'s source.
    pub fn new(project: ProjectSource) -> Symbolizer {
        Symbolizer {
            project,
            modules: HashMap::new(),
        }
    }

    /// The origin of a socket created with `stack`: every frame symbolized
    /// as far as its file allows, and a note when lines are missing for
    /// want of debug info, a file could not be read, or the stack is cut
    /// short. Never fails: what cannot be known is left out and said.
    pub fn symbolize(&mut self, stack: &RawStack) -> Origin {
        let mut frames = Vec::new();
        let mut notes: Vec<String> = Vec::new();
        let mut program_lacks_lines = false;
        for raw in &stack.frames {
            let module = self
                .modules
                .entry(Arc::clone(&raw.module))
                .or_insert_with(|| Module::load(&raw.module));
            if let Err(reason) = &module.loader {
                let note = format!("cannot read {}: {reason}", raw.module.display());
                if !notes.contains(&note) {
                    notes.push(note);
                }
            }
            program_lacks_lines |= !module.has_line_tables && !is_shared_library(&raw.module);
            frames.extend_from_slice(module.frames_at(raw.lookup_address, &self.project));
        }
        let origin = Origin::new(stack.syscall, frames);
        let site_has_line = origin.site.as_ref().is_some_and(|site| site.line.is_some());
        if program_lacks_lines && !site_has_line {
            notes.insert(0, LINES_NEED_DEBUG_INFO.to_owned());
        }
        if stack.truncated {
            notes.push("the stack is cut short: the unwinder could not go further".to_owned());
        }
        if notes.is_empty() {
            origin
        } else {
            origin.with_note(notes.join("; "))
        }
    }

    /// Once for a whole run, when frames named project files that are
    /// found neither where the binary was built nor in today's checkout:
    /// "sites come from a build made in /other/path: rebuild or check
    /// --target-dir".
    pub fn lost_sites_note(&self) -> Option<String> {
        let built_in: BTreeSet<&PathBuf> = self
            .modules
            .values()
            .flat_map(|module| &module.lost_in)
            .collect();
        if built_in.is_empty() {
            return None;
        }
        let dirs: Vec<String> = built_in
            .iter()
            .map(|dir| dir.display().to_string())
            .collect();
        Some(format!(
            "sites come from a build made in {}: rebuild or check --target-dir",
            dirs.join(", ")
        ))
    }
}

impl Module {
    /// Loads `path`'s debug info and symbols; an unreadable file is kept as
    /// the reason, so that its frames stay unnamed instead of failing.
    fn load(path: &Arc<Path>) -> Module {
        let loader = Loader::new(path).map_err(|error| error.to_string());
        let has_line_tables = loader
            .as_ref()
            .is_ok_and(|loader| loader.get_section_range(b".debug_line").is_some());
        Module {
            path: Arc::clone(path),
            build_roots: OnceCell::new(),
            loader,
            has_line_tables,
            lost_in: BTreeSet::new(),
            frames: HashMap::new(),
        }
    }

    /// The frames at `address`, innermost (inlined) first; one unnamed
    /// frame when nothing is known of it.
    fn frames_at(&mut self, address: u64, project: &ProjectSource) -> &[Frame] {
        let (loader, lost_in) = (&self.loader, &mut self.lost_in);
        let (path, roots) = (&self.path, &self.build_roots);
        self.frames.entry(address).or_insert_with(|| {
            let mut frames = match loader {
                Ok(loader) => look_up(loader, address),
                Err(_) => Vec::new(),
            };
            let build_roots = || roots.get_or_init(|| build_roots(path)).as_slice();
            for frame in &mut frames {
                if let Some(built_in) = mark_project_frame(frame, project, build_roots) {
                    lost_in.insert(built_in);
                }
            }
            if frames.is_empty() {
                frames.push(Frame::default());
            }
            frames
        })
    }
}

/// The inline chain at `address` from DWARF, its outermost function named
/// from the symbol table where DWARF gives no qualified name: no entry at
/// all, no name, or only a bare one (`close_wait_socket`, where a build
/// with `debug = "line-tables-only"` emits no linkage names; its inlined
/// frames keep their bare names, the only ones it has).
fn look_up(loader: &Loader, address: u64) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut outermost_is_qualified = false;
    if let Ok(mut chain) = loader.find_frames(address) {
        // A malformed entry ends the chain; the frames before it stand.
        while let Ok(Some(found)) = chain.next() {
            let raw_name = found
                .function
                .as_ref()
                .and_then(|name| name.raw_name().ok());
            outermost_is_qualified = raw_name.as_deref().is_some_and(is_qualified);
            let mut frame = Frame::default();
            frame.function = raw_name.map(|name| demangle(&name));
            if let Some(location) = &found.location {
                frame.file = location.file.map(str::to_owned);
                frame.line = location.line.filter(|&line| line != 0);
                frame.column = location.column.filter(|&column| column != 0);
            }
            frames.push(frame);
        }
    }
    if !outermost_is_qualified {
        if let Some(symbol) = loader.find_symbol(address) {
            let names_a_rust_path = rustc_demangle::try_demangle(symbol).is_ok();
            match frames.last_mut() {
                // A C function's own name stands: its symbol may be an alias.
                Some(frame) if frame.function.is_some() && !names_a_rust_path => {}
                Some(frame) => frame.function = Some(demangle(symbol)),
                None => frames.push(Frame::function(demangle(symbol))),
            }
        }
    }
    frames
}

/// Marks `frame` as the project's and makes its file relative to today's
/// workspace root when it lies in the project's source (see
/// [`ProjectSource::place`]); without a file, when its function belongs to
/// one of the project's crates. Returns the build root of a project file
/// found nowhere.
fn mark_project_frame<'a>(
    frame: &mut Frame,
    project: &ProjectSource,
    build_roots: impl FnOnce() -> &'a [PathBuf],
) -> Option<PathBuf> {
    let Some(file) = &frame.file else {
        frame.in_project = frame
            .function
            .as_deref()
            .is_some_and(|function| project.owns_function(function));
        return None;
    };
    match project.place(Path::new(file), build_roots) {
        Place::Project(relative) => {
            frame.file = Some(relative);
            frame.in_project = true;
            None
        }
        Place::Lost { built_in } => Some(built_in),
        Place::Elsewhere => None,
    }
}

/// The directories `path`'s workspace packages were compiled in: the
/// `DW_AT_comp_dir` of each compilation unit named by a relative path.
/// Cargo compiles a workspace's packages from the workspace root and names
/// them relative to it; std and registry crates are named by absolute
/// paths. Only the units' first entries are read; none when the file has
/// no readable DWARF.
fn build_roots(path: &Path) -> Vec<PathBuf> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let cache = ReadCache::new(file);
    let Ok(object) = object::File::parse(&cache) else {
        return Vec::new();
    };
    let endian = if object.is_little_endian() {
        gimli::RunTimeEndian::Little
    } else {
        gimli::RunTimeEndian::Big
    };
    // What a unit's name and compilation directory are read from; the
    // other sections (line tables, ranges, locations) stay unread.
    let needed = [
        gimli::SectionId::DebugInfo,
        gimli::SectionId::DebugAbbrev,
        gimli::SectionId::DebugStr,
        gimli::SectionId::DebugLineStr,
    ];
    let load = |id: gimli::SectionId| -> Result<Cow<[u8]>, gimli::Error> {
        let data = needed
            .contains(&id)
            .then(|| object.section_by_name(id.name()))
            .flatten()
            .and_then(|section| section.uncompressed_data().ok());
        Ok(data.unwrap_or(Cow::Borrowed(&[])))
    };
    let Ok(sections) = gimli::DwarfSections::load(load) else {
        return Vec::new();
    };
    let dwarf = sections.borrow(|section| gimli::EndianSlice::new(section, endian));
    let mut roots: Vec<PathBuf> = Vec::new();
    let mut headers = dwarf.units();
    while let Ok(Some(header)) = headers.next() {
        let Ok(abbreviations) = header.abbreviations(&dwarf.debug_abbrev) else {
            continue;
        };
        let mut entries = header.entries(&abbreviations);
        let Ok(Some(unit)) = entries.next_dfs() else {
            continue;
        };
        let string = |attribute| {
            let value = unit.attr_value(attribute)?;
            dwarf.attr_line_string(value).ok()
        };
        let (Some(name), Some(dir)) = (string(gimli::DW_AT_name), string(gimli::DW_AT_comp_dir))
        else {
            continue;
        };
        let dir = PathBuf::from(OsStr::from_bytes(dir.slice()));
        if !name.slice().starts_with(b"/") && !roots.contains(&dir) {
            roots.push(dir);
        }
    }
    roots
}

/// True for a name that says where its function lives: a mangled Rust
/// symbol (a linkage name) or a path. A bare `helper` is what
/// `debug = "line-tables-only"` leaves of `crate::module::helper`.
/// A path's separators count outside generic arguments only:
/// `connect<core::net::SocketAddr>` is bare.
fn is_qualified(name: &str) -> bool {
    if rustc_demangle::try_demangle(name).is_ok() {
        return true;
    }
    let mut depth = 0usize;
    let mut outside = String::with_capacity(name.len());
    for character in name.chars() {
        match character {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => outside.push(character),
            _ => {}
        }
    }
    outside.contains("::")
}

/// A Rust symbol demangled without its hash (`std::net::tcp::TcpListener::bind`);
/// any other symbol as it is (`__libc_socket`).
fn demangle(symbol: &str) -> String {
    match rustc_demangle::try_demangle(symbol) {
        Ok(demangled) => format!("{demangled:#}"),
        Err(_) => symbol.to_owned(),
    }
}

/// True for shared libraries (`libc.so.6`): a system library without line
/// tables is normal and says nothing about the project's build.
fn is_shared_library(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().contains(".so"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::elf::ElfUnwindInfo;
    use crate::stack::{maps, RawFrame};
    use std::path::PathBuf;
    use std::process::Command;

    /// The workspace this crate is a member of.
    fn workspace_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("cargo-sockcheck lies in the workspace")
            .to_path_buf()
    }

    fn symbolizer() -> Symbolizer {
        let root = workspace_root();
        let member = root.join("cargo-sockcheck");
        Symbolizer::new(ProjectSource::new(
            &root,
            &[member],
            vec!["cargo_sockcheck".into()],
        ))
    }

    /// The running instruction's address; inlined into its caller, so the
    /// address lies in an inline chain of two frames.
    #[inline(always)]
    fn instruction_address() -> u64 {
        let address: u64;
        // SAFETY: reads the instruction pointer into a register; touches no
        // memory, stack or flags.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            std::arch::asm!("lea {}, [rip]", out(reg) address, options(nomem, nostack, preserves_flags));
        }
        // SAFETY: as above, with the current instruction's address.
        #[cfg(target_arch = "aarch64")]
        unsafe {
            std::arch::asm!("adr {}, .", out(reg) address, options(nomem, nostack, preserves_flags));
        }
        address
    }

    /// An address in this function (through an inlined call) and the line
    /// of that call.
    #[inline(never)]
    fn an_address_and_its_line() -> (u64, u32) {
        (instruction_address(), line!())
    }

    /// The file mapped at runtime `address` in this process and the lookup
    /// address in it: `address` minus the file's load bias, found as the
    /// tracer finds it (`/proc/self/maps`, the ELF program headers).
    fn lookup_in_this_process(address: u64) -> RawFrame {
        let mappings = maps::read(std::process::id() as libc::pid_t).expect("/proc/self/maps");
        let mapping = mappings
            .iter()
            .find(|mapping| mapping.range.contains(&address))
            .expect("the address is mapped");
        // SAFETY: sysconf only reads a system constant.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
        let bias = ElfUnwindInfo::read(&mapping.path)
            .expect("the mapped file is ELF")
            .bias(mapping.range.start, mapping.offset, page_size)
            .expect("a load segment at the mapping's offset");
        RawFrame {
            module: Arc::from(mapping.path.as_path()),
            lookup_address: address - bias,
        }
    }

    #[test]
    fn a_name_is_qualified_by_a_path_outside_its_generic_arguments() {
        for qualified in [
            "_ZN5leaky17close_wait_socket17h0123456789abcdefE",
            "leaky::close_wait_socket",
            "<std::net::TcpStream as std::io::Read>::read",
            "core::ptr::drop_in_place<std::net::TcpStream>",
        ] {
            assert!(is_qualified(qualified), "{qualified}");
        }
        for bare in [
            "close_wait_socket",
            "connect<core::net::socket_addr::SocketAddr>",
            "{closure#0}<()>",
            "__libc_socket",
        ] {
            assert!(!is_qualified(bare), "{bare}");
        }
    }

    #[test]
    fn an_address_in_this_test_binary_names_its_file_line_and_inline_chain() {
        let (address, line) = an_address_and_its_line();
        let raw = lookup_in_this_process(address);
        let origin = symbolizer().symbolize(&RawStack {
            syscall: "socket",
            frames: vec![raw],
            truncated: false,
        });
        let file = "cargo-sockcheck/src/stack/symbolize.rs";
        let [inlined, caller] = origin.stack.as_slice() else {
            panic!("expected an inline chain of two frames: {:?}", origin.stack);
        };
        assert_eq!(
            inlined.function.as_deref(),
            Some("cargo_sockcheck::stack::symbolize::tests::instruction_address")
        );
        assert_eq!(inlined.file.as_deref(), Some(file));
        assert!(inlined.in_project);
        assert_eq!(
            caller.function.as_deref(),
            Some("cargo_sockcheck::stack::symbolize::tests::an_address_and_its_line")
        );
        assert_eq!(caller.file.as_deref(), Some(file));
        assert_eq!(caller.line, Some(line));
        assert!(caller.column.is_some());
        assert_eq!(origin.site.as_ref(), Some(inlined));
        assert_eq!(origin.note, None);
    }

    extern "C" {
        /// glibc's `backtrace(3)`: the return addresses of the calling
        /// thread's stack, innermost first.
        fn backtrace(buffer: *mut *mut libc::c_void, size: libc::c_int) -> libc::c_int;
    }

    /// This thread's stack as the tracer would give it: each return address
    /// moved back into its call instruction and placed in its file.
    #[inline(never)]
    fn this_threads_stack() -> RawStack {
        let mut addresses = [std::ptr::null_mut(); 64];
        // SAFETY: backtrace writes at most `size` pointers into the buffer.
        let depth = unsafe { backtrace(addresses.as_mut_ptr(), addresses.len() as libc::c_int) };
        let frames = addresses[..usize::try_from(depth).unwrap_or(0)]
            .iter()
            .map(|&address| lookup_in_this_process(address as u64 - 1))
            .collect();
        RawStack {
            syscall: "socket",
            frames,
            truncated: false,
        }
    }

    /// What symbolizing costs, printed (not asserted: timings belong in
    /// BENCHMARKS.md). Run it optimized, on a test binary with debug info:
    /// `CARGO_PROFILE_RELEASE_DEBUG=true cargo test -p cargo-sockcheck
    /// --release --lib symbolization_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement; run by hand"]
    fn symbolization_cost() {
        use std::time::Instant;
        let main_thread = this_threads_stack();
        let other_thread = std::thread::spawn(this_threads_stack)
            .join()
            .expect("the thread returns its stack");
        let binary = &main_thread.frames[0].module;
        let size = std::fs::metadata(binary).map_or(0, |m| m.len());

        let start = Instant::now();
        let loader = Loader::new(binary).expect("the test binary loads");
        let load = start.elapsed();
        drop(loader);
        let start = Instant::now();
        let roots = build_roots(binary);
        let roots_read = start.elapsed();

        let mut symbolizer = symbolizer();
        let start = Instant::now();
        let first = symbolizer.symbolize(&main_thread);
        let cold = start.elapsed();
        let start = Instant::now();
        let second = symbolizer.symbolize(&other_thread);
        let warm_new_addresses = start.elapsed();
        let start = Instant::now();
        let repeats = 100;
        for _ in 0..repeats {
            symbolizer.symbolize(&main_thread);
        }
        let warm_cached = start.elapsed() / repeats;

        assert!(first.site.is_some() && second.site.is_some(), "{first:#?}");
        println!(
            "test binary {} MB, {} + {} frames ({} + {} after inlining), {} files",
            size / 1_000_000,
            main_thread.frames.len(),
            other_thread.frames.len(),
            first.stack.len(),
            second.stack.len(),
            symbolizer.modules.len()
        );
        println!("Loader::new of the test binary: {load:?}");
        println!("its build roots ({roots:?}): {roots_read:?}");
        println!("first stack (loading every file, parsing DWARF lazily): {cold:?}");
        println!("second stack, same files, new addresses: {warm_new_addresses:?}");
        println!("a stack seen before (every address cached): {warm_cached:?}");
    }

    #[test]
    fn this_test_binary_was_built_in_the_workspace_root_and_std_elsewhere() {
        let (address, _) = an_address_and_its_line();
        let binary = lookup_in_this_process(address).module;
        let roots = build_roots(&binary);
        let root = workspace_root();
        let canonical = root.canonicalize().expect("the workspace root");
        assert!(
            roots.iter().any(|dir| *dir == root || *dir == canonical),
            "{roots:?}"
        );
        // std and registry crates are named by absolute paths: not roots.
        assert!(
            roots.iter().all(|dir| !dir.starts_with("/rustc")),
            "{roots:?}"
        );
        assert_eq!(
            build_roots(Path::new("/nonexistent/binary")),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn frames_are_cached_per_file_and_address() {
        let (address, _) = an_address_and_its_line();
        let raw = lookup_in_this_process(address);
        let mut symbolizer = symbolizer();
        let stack = RawStack {
            syscall: "socket",
            frames: vec![raw.clone(), raw],
            truncated: false,
        };
        let origin = symbolizer.symbolize(&stack);
        assert_eq!(origin.stack.len(), 4);
        assert_eq!(origin.stack[..2], origin.stack[2..]);
        assert_eq!(symbolizer.modules.len(), 1);
        let module = symbolizer.modules.values().next().expect("one module");
        assert_eq!(module.frames.len(), 1);
    }

    #[test]
    fn an_unreadable_file_keeps_the_other_frames_and_says_so() {
        let (address, _) = an_address_and_its_line();
        let missing: Arc<Path> = Arc::from(Path::new("/nonexistent/libgone.so"));
        let origin = symbolizer().symbolize(&RawStack {
            syscall: "accept4",
            frames: vec![
                RawFrame {
                    module: missing,
                    lookup_address: 0x1234,
                },
                lookup_in_this_process(address),
            ],
            truncated: true,
        });
        assert_eq!(origin.syscall, "accept4");
        assert_eq!(origin.stack.len(), 3);
        assert_eq!(origin.stack[0], Frame::default());
        assert!(origin.site.is_some());
        let note = origin.note.expect("a note");
        assert!(
            note.starts_with("cannot read /nonexistent/libgone.so: ")
                && note.ends_with("; the stack is cut short: the unwinder could not go further"),
            "{note}"
        );
    }

    /// A program built without debug info (as `[profile.release] debug =
    /// false` builds one) and not position-independent, so that its
    /// function's runtime address, which it prints, is the lookup address.
    fn build_without_debug_info(dir: &Path, strip: &str) -> (PathBuf, u64) {
        let source = dir.join("nodebug.rs");
        std::fs::write(
            &source,
            "#[inline(never)]\n\
             fn open_socket() -> usize { std::hint::black_box(7) }\n\
             fn main() { println!(\"{}\", open_socket as *const () as usize + open_socket()); }\n",
        )
        .expect("source file");
        let program = dir.join(format!("nodebug-{strip}"));
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let status = Command::new(rustc)
            .args(["--edition=2021", "-Cdebuginfo=0", "-Copt-level=1"])
            .arg(format!("-Cstrip={strip}"))
            .args(["-Crelocation-model=static", "-o"])
            .arg(&program)
            .arg(&source)
            .status()
            .expect("rustc runs");
        assert!(status.success(), "rustc failed: {status}");
        let output = Command::new(&program).output().expect("the program runs");
        let printed = String::from_utf8_lossy(&output.stdout);
        let address: u64 = printed.trim().parse().expect("an address");
        (program, address - 7)
    }

    fn symbolize_in(program: &Path, address: u64) -> Origin {
        let project = ProjectSource::new(Path::new("/ws"), &[], vec!["nodebug".into()]);
        Symbolizer::new(project).symbolize(&RawStack {
            syscall: "socket",
            frames: vec![RawFrame {
                module: Arc::from(program),
                lookup_address: address,
            }],
            truncated: false,
        })
    }

    #[test]
    fn without_debug_info_functions_are_named_and_lines_said_to_need_it() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (program, address) = build_without_debug_info(dir.path(), "debuginfo");
        let origin = symbolize_in(&program, address);
        let site = Frame::function("nodebug::open_socket").in_project();
        assert_eq!(origin.stack, std::slice::from_ref(&site));
        assert_eq!(origin.site, Some(site));
        assert_eq!(origin.note.as_deref(), Some(LINES_NEED_DEBUG_INFO));
    }

    #[test]
    fn a_stripped_binary_gives_an_unnamed_frame_and_the_note() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let (program, address) = build_without_debug_info(dir.path(), "symbols");
        let origin = symbolize_in(&program, address);
        assert_eq!(origin.stack, [Frame::default()]);
        assert_eq!(origin.site, None);
        assert_eq!(origin.note.as_deref(), Some(LINES_NEED_DEBUG_INFO));
    }

    #[test]
    fn rust_symbols_lose_their_hash_and_others_stay() {
        assert_eq!(
            demangle("_ZN3std3net3tcp11TcpListener4bind17h0123456789abcdefE"),
            "std::net::tcp::TcpListener::bind"
        );
        assert_eq!(demangle("__libc_socket"), "__libc_socket");
    }
}
