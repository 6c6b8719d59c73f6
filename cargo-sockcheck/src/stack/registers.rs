//! A stopped tracee's registers, and what the tracer reads from them: the
//! system call it is in, its arguments and result, and where to unwind from.

use std::io;

/// The general-purpose registers of a stopped thread.
#[derive(Clone, Copy)]
pub struct Registers(libc::user_regs_struct);

impl Registers {
    /// Reads the registers of `tid`, which must be in a ptrace stop.
    pub fn of(tid: libc::pid_t) -> io::Result<Registers> {
        let mut regs = std::mem::MaybeUninit::<libc::user_regs_struct>::zeroed();
        let mut iov = libc::iovec {
            iov_base: regs.as_mut_ptr().cast(),
            iov_len: std::mem::size_of::<libc::user_regs_struct>(),
        };
        // SAFETY: iov describes a writable user_regs_struct; PTRACE_GETREGSET
        // with NT_PRSTATUS writes at most that many bytes.
        let rc = unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGSET,
                tid,
                libc::NT_PRSTATUS as usize,
                &raw mut iov,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel filled it in (it was zeroed before anyway).
        Ok(Registers(unsafe { regs.assume_init() }))
    }
}

#[cfg(target_arch = "x86_64")]
impl Registers {
    /// The number of the system call the thread is stopped in.
    pub fn syscall_number(&self) -> libc::c_long {
        self.0.orig_rax as libc::c_long
    }

    /// The system call's argument `n` (0-based), as it was at entry.
    pub fn argument(&self, n: usize) -> u64 {
        let r = &self.0;
        [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9][n]
    }

    /// The system call's result, at its exit stop (`-errno` on failure).
    pub fn return_value(&self) -> i64 {
        self.0.rax as i64
    }

    /// Where unwinding starts: program counter, stack pointer, frame pointer.
    pub fn unwind_start(&self) -> (u64, framehop::UnwindRegsNative) {
        let r = &self.0;
        (r.rip, framehop::UnwindRegsNative::new(r.rip, r.rsp, r.rbp))
    }
}

// Written against the aarch64 register layout but neither built nor run on
// aarch64 yet.
#[cfg(target_arch = "aarch64")]
impl Registers {
    /// The number of the system call the thread is stopped in.
    pub fn syscall_number(&self) -> libc::c_long {
        self.0.regs[8] as libc::c_long
    }

    /// The system call's argument `n` (0-based). x0 is overwritten by the
    /// result at the exit stop; the others keep their entry values.
    pub fn argument(&self, n: usize) -> u64 {
        self.0.regs[n]
    }

    /// The system call's result, at its exit stop (`-errno` on failure).
    pub fn return_value(&self) -> i64 {
        self.0.regs[0] as i64
    }

    /// Where unwinding starts: program counter, and lr, sp, fp.
    pub fn unwind_start(&self) -> (u64, framehop::UnwindRegsNative) {
        let r = &self.0;
        (
            r.pc,
            framehop::UnwindRegsNative::new(r.regs[30], r.sp, r.regs[29]),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_that_is_not_traced_has_no_registers_to_read() {
        let error = Registers::of(std::process::id() as libc::pid_t)
            .err()
            .unwrap();
        assert_eq!(error.raw_os_error(), Some(libc::ESRCH));
    }
}
