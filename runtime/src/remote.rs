//! Remote memory for `Handoff::RemoteMemory`: a producer's payload is
//! written into the accelerator's memory and its consumers read it
//! one-sided, through the FPGA crate's driver interface
//! ([`hivemind_fpga::driver::RemoteMemory`]). With no board present the
//! driver is [`SoftwareFabric`], the fallback with the hardware's checks,
//! memory layout and status codes; a board's driver implements the same
//! trait.
//!
//! One connection and one region cover the whole memory; payloads are
//! placed first-fit in whole data-path words (reads and writes are
//! word-aligned, as the engine requires) and the space is given back when
//! the content store frees the payload. A payload that does not fit (the
//! memory is full, or it is larger than the memory) stays in the content
//! store instead: counted, never lost.

use hivemind_fpga::driver::{Csr, RemoteMemory, SoftwareFabric};
use hivemind_fpga::{regmap, CsrError, HwParams, Status};
use std::collections::BTreeMap;

/// The connection and region the runtime uses.
const CONN: u16 = 0;
const REGION: u8 = 0;

/// The software fallback's build: the widest data path (one 64-byte word
/// per beat) and the largest memory the register map addresses (2^20
/// words: 64 MiB).
pub const FALLBACK: HwParams = HwParams {
    data_bits: 512,
    mem_addr_bits: 20,
    connections: 1,
    functions: 1,
    queues: 1,
    regions: 1,
    queue_depth_max: 1,
};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("remote memory parameters: {0}")]
    Params(#[from] hivemind_fpga::params::ParamError),
    #[error("the remote-memory engine refused its configuration (register {addr:#x}): {status}")]
    Config { addr: u32, status: String },
}

/// Where a payload lives in remote memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// First word.
    word: u32,
    /// Words taken.
    words: u32,
    /// Payload bytes (the last word may be partly padding).
    pub len: u32,
}

pub struct RemoteArena {
    fabric: SoftwareFabric,
    word_bytes: u32,
    /// Free runs of words: first word -> length; adjacent runs are merged.
    free: BTreeMap<u32, u32>,
    free_words: u64,
    total_words: u32,
}

impl RemoteArena {
    /// The software fallback with `params`, configured: the engine on, one
    /// connection allowed to read and write, one region over all memory.
    pub fn software(params: HwParams) -> Result<RemoteArena, RemoteError> {
        params.validate()?;
        let mut fabric = SoftwareFabric::new(params, 0);
        let words = params.mem_words();
        let writes = [
            (regmap::CTRL.offset, 1),
            // open, may use remote memory (no RPCs)
            (regmap::CONN.offset, 0b101),
            (regmap::R_BASE.offset, 0),
            (regmap::R_SIZE.offset, words),
            // valid, read, write, atomics
            (regmap::R_PERM.offset, 0b1111),
        ];
        for (addr, value) in writes {
            let status = fabric.csr_write(addr, value);
            if status != CsrError::None {
                return Err(RemoteError::Config {
                    addr,
                    status: format!("{status:?}"),
                });
            }
        }
        Ok(RemoteArena {
            fabric,
            word_bytes: params.bus_bytes(),
            free: BTreeMap::from([(0, words)]),
            free_words: u64::from(words),
            total_words: words,
        })
    }

    /// Bytes not taken by any payload.
    pub fn free_bytes(&self) -> u64 {
        self.free_words * u64::from(self.word_bytes)
    }

    pub fn capacity_bytes(&self) -> u64 {
        u64::from(self.total_words) * u64::from(self.word_bytes)
    }

    /// Write `payload` into free words; `None` when it does not fit.
    pub fn put(&mut self, payload: &[u8]) -> Option<Placement> {
        let len = u32::try_from(payload.len()).ok()?;
        let words = len.div_ceil(self.word_bytes).max(1);
        let (&word, &run) = self.free.iter().find(|(_, &run)| run >= words)?;
        self.free.remove(&word);
        if run > words {
            self.free.insert(word + words, run - words);
        }
        self.free_words -= u64::from(words);
        let at = Placement { word, words, len };
        let mut padded = payload.to_vec();
        padded.resize((words * self.word_bytes) as usize, 0);
        match self.fabric.write(CONN, REGION, self.offset(at), &padded) {
            Ok(()) => Some(at),
            Err(status) => {
                tracing::warn!(
                    ?status,
                    "remote memory refused a write; payload kept locally"
                );
                self.release(at);
                None
            }
        }
    }

    /// Read a payload back (one-sided: the producer is not involved).
    pub fn get(&mut self, at: Placement) -> Result<Vec<u8>, Status> {
        let mut bytes =
            self.fabric
                .read(CONN, REGION, self.offset(at), at.words * self.word_bytes)?;
        bytes.truncate(at.len as usize);
        Ok(bytes)
    }

    /// Give a payload's words back.
    pub fn release(&mut self, at: Placement) {
        let (mut word, mut words) = (at.word, at.words);
        if let Some((&prev, &run)) = self.free.range(..word).next_back() {
            if prev + run == word {
                self.free.remove(&prev);
                word = prev;
                words += run;
            }
        }
        if let Some(run) = self.free.remove(&(word + words)) {
            words += run;
        }
        self.free.insert(word, words);
        self.free_words += u64::from(at.words);
    }

    fn offset(&self, at: Placement) -> u32 {
        at.word * self.word_bytes
    }
}

impl std::fmt::Debug for RemoteArena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteArena")
            .field("capacity_bytes", &self.capacity_bytes())
            .field("free_bytes", &self.free_bytes())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> RemoteArena {
        // 2^6 words of 8 bytes: 512 bytes.
        RemoteArena::software(HwParams {
            data_bits: 64,
            mem_addr_bits: 6,
            ..FALLBACK
        })
        .unwrap()
    }

    #[test]
    fn payloads_round_trip_through_the_engine_in_whole_words() {
        let mut a = small();
        assert_eq!(a.capacity_bytes(), 512);
        let odd: Vec<u8> = (0..13).collect();
        let p = a.put(&odd).unwrap();
        let empty = a.put(&[]).unwrap();
        assert_eq!(a.get(p).unwrap(), odd);
        assert_eq!(a.get(empty).unwrap(), Vec::<u8>::new());
        // 13 bytes take two 8-byte words, an empty payload one.
        assert_eq!(a.free_bytes(), 512 - 24);
    }

    #[test]
    fn a_full_memory_refuses_and_freed_space_is_merged_and_reused() {
        let mut a = small();
        let big = vec![7u8; 200];
        let x = a.put(&big).unwrap();
        let y = a.put(&big).unwrap();
        assert!(a.put(&big).is_none(), "only 112 bytes are left");
        assert!(a.put(&vec![1u8; 513]).is_none(), "larger than the memory");
        a.release(x);
        a.release(y);
        assert_eq!(a.free_bytes(), 512);
        // Merged back into one run: the whole memory fits again.
        let all = a.put(&vec![9u8; 512]).unwrap();
        assert_eq!(a.get(all).unwrap(), vec![9u8; 512]);
    }

    #[test]
    fn the_fallback_build_is_valid() {
        let a = RemoteArena::software(FALLBACK).unwrap();
        assert_eq!(a.capacity_bytes(), 64 << 20);
    }
}
