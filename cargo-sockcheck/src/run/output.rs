//! A test's output, read from a non-blocking pipe and kept within a fixed
//! budget: the start and the end, with the size of what was cut between.

use std::collections::VecDeque;
use std::io::{self, PipeReader, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

/// Bytes kept from the start of a test's output.
const HEAD: usize = 32 * 1024;
/// Bytes kept from the end of a test's output.
const TAIL: usize = 32 * 1024;

/// The read end of a test's stdout+stderr pipe and what was read from it.
pub struct OutputCapture {
    pipe: Option<PipeReader>,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    cut: u64,
}

impl OutputCapture {
    /// Takes the read end of the pipe and makes it non-blocking.
    pub fn new(pipe: PipeReader) -> io::Result<OutputCapture> {
        // SAFETY: fcntl on an fd we own. The read end's only status flag
        // is O_RDONLY (an access mode F_SETFL leaves alone): no F_GETFL.
        if unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(OutputCapture {
            pipe: Some(pipe),
            head: Vec::new(),
            tail: VecDeque::new(),
            cut: 0,
        })
    }

    /// The pipe to poll, while it is open.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(AsFd::as_fd)
    }

    /// Reads what is available now; closes the pipe at end of file.
    pub fn read_available(&mut self) {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            let Some(pipe) = self.pipe.as_mut() else {
                return;
            };
            match pipe.read(&mut buffer) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => self.keep(&buffer[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipe = None;
                    return;
                }
            }
        }
    }

    fn keep(&mut self, mut bytes: &[u8]) {
        let room = HEAD - self.head.len();
        let to_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..to_head]);
        bytes = &bytes[to_head..];
        if bytes.len() >= TAIL {
            self.cut += (self.tail.len() + bytes.len() - TAIL) as u64;
            self.tail.clear();
            bytes = &bytes[bytes.len() - TAIL..];
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(TAIL);
        self.tail.drain(..overflow);
        self.cut += overflow as u64;
        self.tail.extend(bytes);
    }

    /// Everything kept, as text (invalid UTF-8 replaced), with a line saying
    /// how much was cut from the middle.
    pub fn finish(mut self) -> String {
        self.read_available();
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.cut > 0 {
            text.push_str(&format!(
                "\n[sockcheck: {} bytes of output cut here]\n",
                self.cut
            ));
        }
        let (a, b) = self.tail.as_slices();
        text.push_str(&String::from_utf8_lossy(&[a, b].concat()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn large_output_keeps_head_and_tail_and_counts_the_cut() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let mut capture = OutputCapture::new(reader).unwrap();
        let total = HEAD + TAIL + 100_000;
        let chunk = vec![b'x'; 8192];
        let mut written = 0;
        while written < total {
            let n = chunk.len().min(total - written);
            writer.write_all(&chunk[..n]).unwrap();
            written += n;
            capture.read_available();
        }
        drop(writer);
        let text = capture.finish();
        assert!(
            text.contains("[sockcheck: 100000 bytes of output cut here]"),
            "{}",
            &text[HEAD..HEAD + 80]
        );
        assert_eq!(text.matches('x').count(), HEAD + TAIL);
    }

    #[test]
    fn invalid_utf8_is_replaced_not_fatal() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let capture = OutputCapture::new(reader).unwrap();
        writer.write_all(b"ok \xff\xfe end").unwrap();
        drop(writer);
        assert_eq!(capture.finish(), "ok \u{fffd}\u{fffd} end");
    }
}
