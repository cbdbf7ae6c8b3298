//! Build-time parameters of the accelerator: one set per bitstream variant
//! (hard reconfiguration). The RTL gets the same numbers as Verilog
//! parameters; the driver reads them back from the CAPS registers.

use thiserror::Error;

/// Hard upper limits the register map has room for (address space per table).
pub const MAX_CONNECTIONS: u32 = 64;
pub const MAX_FUNCTIONS: u32 = 64;
pub const MAX_QUEUES: u32 = 16;
pub const MAX_REGIONS: u32 = 64;
pub const MAX_QUEUE_DEPTH: u32 = 255;

/// Parameters of one accelerator build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwParams {
    /// Data path width in bits (64, 128, 256 or 512).
    pub data_bits: u32,
    /// log2 of the on-chip memory size in data-path words.
    pub mem_addr_bits: u32,
    pub connections: u32,
    pub functions: u32,
    pub queues: u32,
    pub regions: u32,
    /// Largest depth (slots) a queue may be configured with.
    pub queue_depth_max: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ParamError {
    #[error("data path width {0} bits: must be 64, 128, 256 or 512")]
    DataWidth(u32),
    #[error("memory address bits {0}: must be 4..=20")]
    MemAddr(u32),
    #[error("{what} = {value}: must be 1..={max}")]
    TableSize {
        what: &'static str,
        value: u32,
        max: u32,
    },
}

impl HwParams {
    /// The configuration the testbenches use (10 GbE-style 64-bit path).
    pub const TEST: HwParams = HwParams {
        data_bits: 64,
        mem_addr_bits: 10,
        connections: 16,
        functions: 8,
        queues: 8,
        regions: 8,
        queue_depth_max: 8,
    };

    pub fn validate(&self) -> Result<(), ParamError> {
        if !matches!(self.data_bits, 64 | 128 | 256 | 512) {
            return Err(ParamError::DataWidth(self.data_bits));
        }
        if !(4..=20).contains(&self.mem_addr_bits) {
            return Err(ParamError::MemAddr(self.mem_addr_bits));
        }
        for (what, value, max) in [
            ("connections", self.connections, MAX_CONNECTIONS),
            ("functions", self.functions, MAX_FUNCTIONS),
            ("queues", self.queues, MAX_QUEUES),
            ("regions", self.regions, MAX_REGIONS),
            ("queue_depth_max", self.queue_depth_max, MAX_QUEUE_DEPTH),
        ] {
            if value == 0 || value > max {
                return Err(ParamError::TableSize { what, value, max });
            }
        }
        Ok(())
    }

    /// Bytes per data-path beat (and per memory word).
    pub fn bus_bytes(&self) -> u32 {
        self.data_bits / 8
    }

    pub fn mem_words(&self) -> u32 {
        1 << self.mem_addr_bits
    }

    pub fn mem_bytes(&self) -> u64 {
        u64::from(self.mem_words()) * u64::from(self.bus_bytes())
    }

    /// Beats the 16-byte header occupies; the payload starts on the next beat.
    pub fn header_beats(&self) -> u32 {
        crate::packet::HEADER_BYTES.div_ceil(self.bus_bytes())
    }

    /// Largest SLOT_SHIFT the CSR block accepts: a slot of `1 << shift`
    /// words stays inside memory and its payload length fits the 16-bit
    /// descriptor length field.
    pub fn slot_shift_max(&self) -> u32 {
        let mut s = 0;
        while s < self.mem_addr_bits && (1u64 << (s + 1)) * u64::from(self.bus_bytes()) <= 65_536 {
            s += 1;
        }
        s
    }
}

/// A bitstream variant: the parameters plus the clock it is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    pub name: &'static str,
    /// Identifier reported in the VARIANT register.
    pub id: u32,
    pub params: HwParams,
    /// Target clock in kHz (the line-rate clock of the interface it serves).
    pub target_clock_khz: u32,
    pub purpose: &'static str,
}

/// The variants this repository defines. Hard reconfiguration loads one of
/// these bitstreams; `fpga/scripts/synth.sh` builds every one of them.
pub const VARIANTS: &[Variant] = &[
    Variant {
        name: "test64",
        id: 1,
        params: HwParams::TEST,
        target_clock_khz: 156_250,
        purpose: "10 GbE (64-bit @ 156.25 MHz); the testbench configuration",
    },
    Variant {
        name: "ice40",
        id: 2,
        params: HwParams {
            data_bits: 64,
            mem_addr_bits: 9,
            connections: 4,
            functions: 2,
            queues: 2,
            regions: 2,
            queue_depth_max: 4,
        },
        target_clock_khz: 48_000,
        purpose: "smallest build, placed and routed on an iCE40 HX8K",
    },
    Variant {
        name: "wide512",
        id: 3,
        params: HwParams {
            data_bits: 512,
            mem_addr_bits: 10,
            connections: 16,
            functions: 8,
            queues: 8,
            regions: 8,
            queue_depth_max: 8,
        },
        target_clock_khz: 200_000,
        purpose: "100 GbE (512-bit @ 200 MHz); generic synthesis only",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_valid() {
        for v in VARIANTS {
            v.params.validate().unwrap();
        }
        assert_eq!(HwParams::TEST.header_beats(), 2);
        assert_eq!(VARIANTS[2].params.header_beats(), 1);
        assert_eq!(HwParams::TEST.slot_shift_max(), 10);
    }
}
