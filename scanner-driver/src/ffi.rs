//! Hand-written declarations for the part of `sane.h` (SANE standard 1.0) that Quire calls.
//!
//! Only the types and the functions used by `device.rs`, `sane.rs`, `option.rs`, `page.rs` and
//! `cancel.rs` are declared; everything else in libsane is left out on purpose. Nothing here is
//! safe to call directly: the safe wrappers live in the other modules.

use std::ffi::{c_char, c_int, c_void};

pub type Word = c_int;
pub type Int = Word;
pub type Bool = Word;
pub type Handle = *mut c_void;
pub type Status = c_int;

pub const STATUS_GOOD: Status = 0;
pub const STATUS_UNSUPPORTED: Status = 1;
pub const STATUS_CANCELLED: Status = 2;
pub const STATUS_DEVICE_BUSY: Status = 3;
pub const STATUS_INVAL: Status = 4;
pub const STATUS_EOF: Status = 5;
pub const STATUS_JAMMED: Status = 6;
pub const STATUS_NO_DOCS: Status = 7;
pub const STATUS_COVER_OPEN: Status = 8;
pub const STATUS_IO_ERROR: Status = 9;
pub const STATUS_NO_MEM: Status = 10;
pub const STATUS_ACCESS_DENIED: Status = 11;
pub const STATUS_WARMING_UP: Status = 12;
pub const STATUS_HW_LOCKED: Status = 13;

pub const TYPE_BOOL: c_int = 0;
pub const TYPE_INT: c_int = 1;
pub const TYPE_FIXED: c_int = 2;
pub const TYPE_STRING: c_int = 3;
pub const TYPE_BUTTON: c_int = 4;

pub const CONSTRAINT_RANGE: c_int = 1;
pub const CONSTRAINT_WORD_LIST: c_int = 2;
pub const CONSTRAINT_STRING_LIST: c_int = 3;

pub const CAP_SOFT_SELECT: Int = 1 << 0;
pub const CAP_INACTIVE: Int = 1 << 5;
pub const CAP_ADVANCED: Int = 1 << 6;

pub const ACTION_GET_VALUE: c_int = 0;
pub const ACTION_SET_VALUE: c_int = 1;

pub const FRAME_GRAY: c_int = 0;
pub const FRAME_RGB: c_int = 1;
pub const FRAME_RED: c_int = 2;
pub const FRAME_GREEN: c_int = 3;
pub const FRAME_BLUE: c_int = 4;

/// Fixed-point values are 16.16.
pub const FIXED_SCALE: f64 = 65536.0;

#[repr(C)]
pub struct Device {
    pub name: *const c_char,
    pub vendor: *const c_char,
    pub model: *const c_char,
    pub kind: *const c_char,
}

#[repr(C)]
pub struct Range {
    pub min: Word,
    pub max: Word,
    pub quant: Word,
}

#[repr(C)]
pub union Constraint {
    pub string_list: *const *const c_char,
    pub word_list: *const Word,
    pub range: *const Range,
}

#[repr(C)]
pub struct OptionDescriptor {
    pub name: *const c_char,
    pub title: *const c_char,
    pub desc: *const c_char,
    pub value_type: c_int,
    pub unit: c_int,
    pub size: Int,
    pub cap: Int,
    pub constraint_type: c_int,
    pub constraint: Constraint,
}

#[repr(C)]
#[derive(Debug, Default, Clone, Copy)]
pub struct Parameters {
    pub format: c_int,
    pub last_frame: Bool,
    pub bytes_per_line: Int,
    pub pixels_per_line: Int,
    pub lines: Int,
    pub depth: Int,
}

pub type AuthCallback = Option<unsafe extern "C" fn(*const c_char, *mut c_char, *mut c_char)>;

#[link(name = "sane")]
unsafe extern "C" {
    pub fn sane_init(version_code: *mut Int, authorize: AuthCallback) -> Status;
    pub fn sane_exit();
    pub fn sane_get_devices(list: *mut *mut *const Device, local_only: Bool) -> Status;
    pub fn sane_open(name: *const c_char, handle: *mut Handle) -> Status;
    pub fn sane_close(handle: Handle);
    pub fn sane_get_option_descriptor(handle: Handle, option: Int) -> *const OptionDescriptor;
    pub fn sane_control_option(
        handle: Handle,
        option: Int,
        action: c_int,
        value: *mut c_void,
        info: *mut Int,
    ) -> Status;
    pub fn sane_get_parameters(handle: Handle, params: *mut Parameters) -> Status;
    pub fn sane_start(handle: Handle) -> Status;
    pub fn sane_read(handle: Handle, data: *mut u8, max_length: Int, length: *mut Int) -> Status;
    pub fn sane_cancel(handle: Handle);
}
