//! Reading a stopped tracee's memory (its stack, a syscall's argument
//! block) with `process_vm_readv`, a page at a time, each page read once.

/// Bytes read from one process at a time, by aligned chunk.
pub struct RemoteMemory {
    pid: libc::pid_t,
    /// Chunks read so far (`None`: unreadable), by chunk address. A stack
    /// walk touches a handful, so a list beats a map.
    chunks: Vec<(u64, Option<Box<[u8; CHUNK]>>)>,
}

/// Bytes read per `process_vm_readv`: never more than one page, so one
/// unmapped page cannot spoil a read of the page before it.
const CHUNK: usize = 4096;

impl RemoteMemory {
    /// Memory of process (or thread) `pid`, nothing read yet.
    pub fn of(pid: libc::pid_t) -> RemoteMemory {
        RemoteMemory {
            pid,
            chunks: Vec::new(),
        }
    }

    /// The native-endian `u64` at `address`, or `Err` when it cannot be read.
    pub fn read_u64(&mut self, address: u64) -> Result<u64, ()> {
        let mut bytes = [0u8; 8];
        self.read_into(address, &mut bytes)?;
        Ok(u64::from_ne_bytes(bytes))
    }

    /// Fills `bytes` from `address` on (a syscall's argument block), or
    /// `Err` when some of it cannot be read.
    pub fn read_into(&mut self, address: u64, bytes: &mut [u8]) -> Result<(), ()> {
        for (i, byte) in bytes.iter_mut().enumerate() {
            let at = address.checked_add(i as u64).ok_or(())?;
            let chunk = self.chunk(at & !(CHUNK as u64 - 1)).ok_or(())?;
            *byte = chunk[(at % CHUNK as u64) as usize];
        }
        Ok(())
    }

    fn chunk(&mut self, start: u64) -> Option<&[u8; CHUNK]> {
        let index = match self.chunks.iter().position(|(s, _)| *s == start) {
            Some(index) => index,
            None => {
                let chunk = read_chunk(self.pid, start);
                self.chunks.push((start, chunk));
                self.chunks.len() - 1
            }
        };
        self.chunks[index].1.as_deref()
    }
}

fn read_chunk(pid: libc::pid_t, start: u64) -> Option<Box<[u8; CHUNK]>> {
    let mut chunk = Box::new([0u8; CHUNK]);
    let local = libc::iovec {
        iov_base: chunk.as_mut_ptr().cast(),
        iov_len: CHUNK,
    };
    let remote = libc::iovec {
        iov_base: start as *mut libc::c_void,
        iov_len: CHUNK,
    };
    // SAFETY: local describes our own writable buffer of CHUNK bytes; the
    // remote address is only read by the kernel, which checks it.
    let read = unsafe { libc::process_vm_readv(pid, &raw const local, 1, &raw const remote, 1, 0) };
    (read == CHUNK as isize).then_some(chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_words_also_across_a_chunk_boundary_and_fails_cleanly() {
        // Our own memory stands in for a tracee's: process_vm_readv on
        // ourselves needs no ptrace.
        let words: Vec<u64> = (0..2048).map(|i| i * 0x0101_0101).collect();
        let base = words.as_ptr() as u64;
        let mut memory = RemoteMemory::of(std::process::id() as libc::pid_t);
        for i in [0usize, 1, 511, 1000, 2047] {
            assert_eq!(memory.read_u64(base + 8 * i as u64), Ok(words[i]));
        }
        let bytes: Vec<u8> = (0..=255).cycle().take(3 * CHUNK).collect();
        // A fresh reader: `bytes` may lie in a page already read (and kept)
        // for the end of `words`, before `bytes` was written.
        let mut memory = RemoteMemory::of(std::process::id() as libc::pid_t);
        let boundary = ((bytes.as_ptr() as u64 + 8) | (CHUNK as u64 - 1)) + 1 - 3;
        let offset = (boundary - bytes.as_ptr() as u64) as usize;
        let expected = u64::from_ne_bytes(bytes[offset..offset + 8].try_into().unwrap());
        assert_eq!(memory.read_u64(boundary), Ok(expected));
        assert_eq!(memory.read_u64(8), Err(()));
        assert_eq!(memory.read_u64(u64::MAX - 3), Err(()));
    }
}
