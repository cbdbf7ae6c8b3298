//! Response status codes (the STATUS byte of every response header) and
//! CSR access results. Defined once; the RTL header and the C-style driver
//! constants are generated from these tables.

/// The status byte of a response. Checks run in the order of the variants
/// below (see README "Error behaviour"); the first failing check wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Status {
    Ok = 0,
    /// `last` arrived before the header was complete.
    Truncated = 1,
    /// CTRL.ENABLE is 0: every packet is drained and refused.
    Disabled = 2,
    /// Unknown opcode or a reserved flag bit set.
    BadHeader = 3,
    /// Connection id outside the table or its entry not valid.
    UnknownConnection = 4,
    /// The connection or the region does not allow this operation.
    PermissionDenied = 5,
    /// Function id outside the table, disabled, or with no queues.
    UnknownFunction = 6,
    /// Region id outside the table or its entry not valid.
    UnknownRegion = 7,
    /// Payload beats differ from the length field, an RPC larger than a
    /// queue slot, or a compare-and-swap whose length is not 8.
    BadLength = 8,
    /// Offset or length not a multiple of the access granule.
    Misaligned = 9,
    /// Access beyond the region or beyond the on-chip memory.
    OutOfBounds = 10,
    /// The function's chosen queue has no free slot.
    QueueFull = 11,
}

impl Status {
    pub const ALL: [Status; 12] = [
        Status::Ok,
        Status::Truncated,
        Status::Disabled,
        Status::BadHeader,
        Status::UnknownConnection,
        Status::PermissionDenied,
        Status::UnknownFunction,
        Status::UnknownRegion,
        Status::BadLength,
        Status::Misaligned,
        Status::OutOfBounds,
        Status::QueueFull,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<Status> {
        Status::ALL.get(usize::from(code)).copied()
    }

    /// Upper-case name used in generated headers (`ST_<NAME>`).
    pub fn name(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Truncated => "TRUNCATED",
            Status::Disabled => "DISABLED",
            Status::BadHeader => "BAD_HEADER",
            Status::UnknownConnection => "UNKNOWN_CONNECTION",
            Status::PermissionDenied => "PERMISSION_DENIED",
            Status::UnknownFunction => "UNKNOWN_FUNCTION",
            Status::UnknownRegion => "UNKNOWN_REGION",
            Status::BadLength => "BAD_LENGTH",
            Status::Misaligned => "MISALIGNED",
            Status::OutOfBounds => "OUT_OF_BOUNDS",
            Status::QueueFull => "QUEUE_FULL",
        }
    }

    pub fn doc(self) -> &'static str {
        match self {
            Status::Ok => "accepted and executed",
            Status::Truncated => "`last` before the 16-byte header was complete",
            Status::Disabled => "CTRL.ENABLE is 0",
            Status::BadHeader => "unknown opcode or a reserved flag bit set",
            Status::UnknownConnection => "connection id outside the table or entry not valid",
            Status::PermissionDenied => "connection or region does not allow the operation",
            Status::UnknownFunction => "function id outside the table, disabled, or no queues",
            Status::UnknownRegion => "region id outside the table or entry not valid",
            Status::BadLength => {
                "payload beats differ from the length field, RPC larger than a slot, or CAS length not 8"
            }
            Status::Misaligned => "offset/length not a multiple of the bus width (8 bytes for CAS)",
            Status::OutOfBounds => "access beyond the region or the on-chip memory",
            Status::QueueFull => "the function's chosen queue has no free slot",
        }
    }
}

/// Result of the last CSR access (STATUS.CSR_ERR).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum CsrError {
    None = 0,
    /// No register at this address (reads return 0, writes are ignored).
    BadAddress = 1,
    /// Value outside the register's legal range; the write is ignored.
    BadValue = 2,
    /// Write to a read-only register; ignored.
    ReadOnly = 3,
    /// Pop of an empty queue; ignored.
    QueueEmpty = 4,
}

impl CsrError {
    pub const ALL: [CsrError; 5] = [
        CsrError::None,
        CsrError::BadAddress,
        CsrError::BadValue,
        CsrError::ReadOnly,
        CsrError::QueueEmpty,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CsrError::None => "NONE",
            CsrError::BadAddress => "BAD_ADDRESS",
            CsrError::BadValue => "BAD_VALUE",
            CsrError::ReadOnly => "READ_ONLY",
            CsrError::QueueEmpty => "QUEUE_EMPTY",
        }
    }
}
