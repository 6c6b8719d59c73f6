//! What unwinding needs from one ELF file (an executable or a shared
//! library): its call-frame information and where its segments load, read
//! once per file however many processes map it.

use framehop::ExplicitModuleSectionInfo;
use object::elf::PT_LOAD;
use object::read::elf::{ElfFile64, ProgramHeader};
use object::{Object, ObjectSection, ReadCache};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

/// Section bytes, shared by every process that maps the file.
pub type Bytes = Arc<[u8]>;

/// One section: its address as stated in the file, and maybe its bytes.
#[derive(Debug, Clone)]
struct Section {
    svma: Range<u64>,
    bytes: Bytes,
}

/// The unwind-relevant parts of one ELF file.
#[derive(Debug)]
pub struct ElfUnwindInfo {
    /// The file, shared by every frame that lies in it.
    pub path: Arc<Path>,
    eh_frame: Option<Section>,
    eh_frame_hdr: Option<Section>,
    /// Only read when there is no `.eh_frame` (slower: framehop indexes it
    /// for every process).
    debug_frame: Option<Section>,
    text_svma: Option<Range<u64>>,
    got_svma: Option<Range<u64>>,
    /// `(p_offset, p_vaddr)` of each `PT_LOAD` segment.
    loads: Vec<(u64, u64)>,
}

impl ElfUnwindInfo {
    /// Reads the sections and program headers of the 64-bit ELF file at
    /// `path`, without reading the rest of it (debug info can be large).
    pub fn read(path: &Path) -> Result<ElfUnwindInfo, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let cache = ReadCache::new(file);
        let elf = ElfFile64::<object::Endianness, _>::parse(&cache).map_err(|e| e.to_string())?;
        let endian = elf.endian();
        let loads = elf
            .elf_program_headers()
            .iter()
            .filter(|header| header.p_type(endian) == PT_LOAD)
            .map(|header| (header.p_offset(endian), header.p_vaddr(endian)))
            .collect();
        let svma = |name: &str| {
            let section = elf.section_by_name(name)?;
            Some(section.address()..section.address() + section.size())
        };
        let section = |name: &str| {
            let section = elf.section_by_name(name)?;
            let bytes = section.data().ok()?;
            Some(Section {
                svma: section.address()..section.address() + section.size(),
                bytes: Arc::from(bytes),
            })
        };
        let eh_frame = section(".eh_frame");
        let debug_frame = match eh_frame {
            Some(_) => None,
            None => section(".debug_frame"),
        };
        Ok(ElfUnwindInfo {
            path: Arc::from(path),
            eh_frame_hdr: section(".eh_frame_hdr"),
            eh_frame,
            debug_frame,
            text_svma: svma(".text"),
            got_svma: svma(".got"),
            loads,
        })
    }

    /// The load bias of this file in a process that maps it at
    /// `mapping_start` from file offset `mapping_offset`: what to subtract
    /// from a runtime address to get the address stated in the file.
    /// `None` when no load segment starts at that offset.
    pub fn bias(&self, mapping_start: u64, mapping_offset: u64, page_size: u64) -> Option<u64> {
        let page = |address: u64| address & !(page_size - 1);
        let (_, vaddr) = self
            .loads
            .iter()
            .find(|&&(offset, _)| page(offset) == mapping_offset)?;
        mapping_start.checked_sub(page(*vaddr))
    }

    /// The sections framehop reads, for one process's module.
    pub fn section_info(&self) -> ExplicitModuleSectionInfo<Bytes> {
        let svma = |section: &Option<Section>| section.as_ref().map(|s| s.svma.clone());
        let bytes = |section: &Option<Section>| section.as_ref().map(|s| s.bytes.clone());
        ExplicitModuleSectionInfo {
            base_svma: 0,
            text_svma: self.text_svma.clone(),
            got_svma: self.got_svma.clone(),
            eh_frame_svma: svma(&self.eh_frame),
            eh_frame: bytes(&self.eh_frame),
            eh_frame_hdr_svma: svma(&self.eh_frame_hdr),
            eh_frame_hdr: bytes(&self.eh_frame_hdr),
            debug_frame: bytes(&self.debug_frame),
            ..ExplicitModuleSectionInfo::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_executable_has_call_frame_info_and_load_segments() {
        let exe = std::env::current_exe().unwrap();
        let info = ElfUnwindInfo::read(&exe).unwrap();
        assert!(info.eh_frame.is_some() && info.eh_frame_hdr.is_some());
        assert!(!info.loads.is_empty());
        let sections = info.section_info();
        assert!(sections.eh_frame.is_some_and(|bytes| !bytes.is_empty()));
    }

    #[test]
    fn the_bias_is_where_the_segment_at_that_offset_was_loaded() {
        let info = ElfUnwindInfo {
            path: Arc::from(Path::new("/bin/x")),
            eh_frame: None,
            eh_frame_hdr: None,
            debug_frame: None,
            text_svma: None,
            got_svma: None,
            // lld-style: the text segment's address differs from its offset.
            loads: vec![(0, 0), (0x4c2a0, 0x4d2a0)],
        };
        assert_eq!(info.bias(0x5581_c0a0_0000, 0, 4096), Some(0x5581_c0a0_0000));
        assert_eq!(
            info.bias(0x5581_c0a4_d000, 0x4c000, 4096),
            Some(0x5581_c0a4_d000 - 0x4d000)
        );
        assert_eq!(info.bias(0x1000, 0x9000, 4096), None);
    }

    #[test]
    fn a_file_that_is_not_elf_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, b"not an ELF file").unwrap();
        assert!(ElfUnwindInfo::read(&path).is_err());
        assert!(ElfUnwindInfo::read(&dir.path().join("missing")).is_err());
    }
}
