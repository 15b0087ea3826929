//! An open SANE device: its options (read, set, checked), and the raw start/read/cancel calls
//! the page reader needs.
//!
//! Every set is checked against the option's descriptor first, so a wrong name or value is
//! reported with the list of what the device does accept. Options are re-read after each set
//! because SANE backends enable and disable options as others change (e.g. `three-pass` only
//! exists in colour mode).

use std::ffi::{CStr, c_void};
use std::marker::PhantomData;

use crate::cancel::CancelHandle;
use crate::error::{SaneStatus, ScanError};
use crate::ffi;
use crate::option::{OptionInfo, OptionValue, ValueType};
use crate::sane::Sane;

/// What a set did: the value asked for and the value the device settled on.
#[derive(Debug, Clone)]
pub struct Applied {
    pub option: String,
    pub requested: OptionValue,
    pub actual: OptionValue,
}

impl Applied {
    /// The device rounded or otherwise changed the value (SANE_INFO_INEXACT).
    pub fn is_inexact(&self) -> bool {
        self.requested != self.actual && self.requested != OptionValue::Press
    }
}

pub struct Device<'s> {
    handle: ffi::Handle,
    name: String,
    options: Vec<OptionInfo>,
    cancel: CancelHandle,
    _sane: PhantomData<&'s Sane>,
}

impl<'s> Device<'s> {
    pub(crate) fn new(
        _sane: &'s Sane,
        handle: ffi::Handle,
        name: String,
    ) -> Result<Self, ScanError> {
        let cancel = CancelHandle::default();
        cancel.attach(handle);
        let mut device = Self {
            handle,
            name,
            options: Vec::new(),
            cancel,
            _sane: PhantomData,
        };
        device.reload_options();
        Ok(device)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// All options except group headings and the option-count option.
    pub fn options(&self) -> &[OptionInfo] {
        &self.options
    }

    pub fn option(&self, name: &str) -> Option<&OptionInfo> {
        self.options.iter().find(|o| o.name == name)
    }

    fn reload_options(&mut self) {
        let mut options = Vec::new();
        // Index 0 is the option count; a NULL descriptor ends the list.
        for index in 1..4096 {
            // SAFETY: the handle is open; SANE returns NULL past the last option.
            let raw = unsafe { ffi::sane_get_option_descriptor(self.handle, index) };
            if raw.is_null() {
                break;
            }
            // SAFETY: `raw` was just returned by sane_get_option_descriptor.
            let info = unsafe { OptionInfo::from_raw(index, &*raw) };
            if info.value_type != ValueType::Group && !info.name.is_empty() {
                options.push(info);
            }
        }
        self.options = options;
    }

    fn missing(&self, option: &str, purpose: &str) -> ScanError {
        let names: Vec<&str> = self.options.iter().map(|o| o.name.as_str()).collect();
        ScanError::OptionMissing {
            device: self.name.clone(),
            option: option.to_string(),
            purpose: purpose.to_string(),
            available: names.join(", "),
        }
    }

    fn refuse(&self, option: &str, value: &str, reason: impl Into<String>) -> ScanError {
        ScanError::OptionValue {
            device: self.name.clone(),
            option: option.to_string(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    pub fn get(&self, name: &str) -> Result<OptionValue, ScanError> {
        let info = self
            .option(name)
            .ok_or_else(|| self.missing(name, "read"))?
            .clone();
        self.get_info(&info)
    }

    fn get_info(&self, info: &OptionInfo) -> Result<OptionValue, ScanError> {
        let size = info.size.max(4) as usize;
        let mut words = vec![0 as ffi::Word; size.div_ceil(4)];
        // SAFETY: the buffer is at least `size` bytes as the descriptor asks.
        let status = unsafe {
            ffi::sane_control_option(
                self.handle,
                info.index,
                ffi::ACTION_GET_VALUE,
                words.as_mut_ptr() as *mut c_void,
                std::ptr::null_mut(),
            )
        };
        SaneStatus::check(status).map_err(|status| ScanError::Control {
            device: self.name.clone(),
            what: format!("reading option `{}`", info.name),
            status,
        })?;
        Ok(match info.value_type {
            ValueType::Bool => OptionValue::Bool(words[0] != 0),
            ValueType::Int => OptionValue::Int(words[0]),
            ValueType::Fixed => OptionValue::Fixed(words[0] as f64 / ffi::FIXED_SCALE),
            ValueType::String => {
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
                let text =
                    CStr::from_bytes_until_nul(&bytes).map(|c| c.to_string_lossy().into_owned());
                OptionValue::String(text.unwrap_or_default())
            }
            ValueType::Button | ValueType::Group => OptionValue::Press,
        })
    }

    /// Parses `text` for the named option and sets it. Used for `--option NAME=VALUE`.
    pub fn set_text(&mut self, name: &str, text: &str) -> Result<Applied, ScanError> {
        let info = self
            .option(name)
            .ok_or_else(|| self.missing(name, "--option"))?;
        let value = info
            .parse(text)
            .map_err(|reason| self.refuse(name, text, reason))?;
        self.set(name, &value)
    }

    /// Sets an option; inactive or read-only options are refused with the reason.
    pub fn set(&mut self, name: &str, value: &OptionValue) -> Result<Applied, ScanError> {
        let info = self
            .option(name)
            .ok_or_else(|| self.missing(name, "set"))?
            .clone();
        let shown = value.to_string();
        if !info.is_active() {
            return Err(self.refuse(
                name,
                &shown,
                "the option is inactive here (it depends on another setting, e.g. mode or source)",
            ));
        }
        if !info.is_settable() {
            return Err(self.refuse(name, &shown, "the option is read-only"));
        }
        let count = (info.size.max(4) as usize).div_ceil(4);
        let mut words: Vec<ffi::Word>;
        let mut bytes: Vec<u8>;
        let ptr: *mut c_void = match (value, info.value_type) {
            (OptionValue::Bool(b), ValueType::Bool) => {
                words = vec![*b as ffi::Word; count];
                words.as_mut_ptr() as *mut c_void
            }
            (OptionValue::Int(n), ValueType::Int) => {
                words = vec![*n; count];
                words.as_mut_ptr() as *mut c_void
            }
            (OptionValue::Fixed(x), ValueType::Fixed) => {
                words = vec![(x * ffi::FIXED_SCALE).round() as ffi::Word; count];
                words.as_mut_ptr() as *mut c_void
            }
            (OptionValue::Int(n), ValueType::Fixed) => {
                words = vec![(*n as f64 * ffi::FIXED_SCALE) as ffi::Word; count];
                words.as_mut_ptr() as *mut c_void
            }
            (OptionValue::Fixed(x), ValueType::Int) => {
                words = vec![x.round() as ffi::Word; count];
                words.as_mut_ptr() as *mut c_void
            }
            (OptionValue::String(s), ValueType::String) => {
                if s.len() + 1 > info.size as usize {
                    return Err(self.refuse(
                        name,
                        s,
                        format!("longer than {} bytes", info.size - 1),
                    ));
                }
                bytes = vec![0u8; info.size as usize];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                bytes.as_mut_ptr() as *mut c_void
            }
            (OptionValue::Press, ValueType::Button) => std::ptr::null_mut(),
            _ => {
                return Err(self.refuse(
                    name,
                    &shown,
                    format!("wrong kind of value (expected {})", info.allowed()),
                ));
            }
        };
        let mut flags: ffi::Int = 0;
        // SAFETY: the buffer matches the descriptor's size and type.
        let status = unsafe {
            ffi::sane_control_option(
                self.handle,
                info.index,
                ffi::ACTION_SET_VALUE,
                ptr,
                &mut flags,
            )
        };
        self.reload_options();
        SaneStatus::check(status).map_err(|status| match status {
            SaneStatus::Invalid => self.refuse(
                name,
                &shown,
                format!("the device refused it (allowed: {})", info.allowed()),
            ),
            status => ScanError::Control {
                device: self.name.clone(),
                what: format!("setting `{name}` to `{shown}`"),
                status,
            },
        })?;
        let actual = match info.value_type {
            ValueType::Button => OptionValue::Press,
            _ => self.get(name).unwrap_or_else(|_| value.clone()),
        };
        Ok(Applied {
            option: name.to_string(),
            requested: value.clone(),
            actual,
        })
    }

    pub(crate) fn start(&mut self) -> Result<(), SaneStatus> {
        // SAFETY: open handle.
        SaneStatus::check(unsafe { ffi::sane_start(self.handle) })
    }

    pub(crate) fn parameters(&mut self) -> Result<ffi::Parameters, SaneStatus> {
        let mut params = ffi::Parameters::default();
        // SAFETY: open handle, valid out-pointer.
        SaneStatus::check(unsafe { ffi::sane_get_parameters(self.handle, &mut params) })?;
        Ok(params)
    }

    /// Reads up to `buf.len()` bytes; the end of a frame is `Err(Eof)`.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, SaneStatus> {
        let mut len: ffi::Int = 0;
        let max = buf.len().min(i32::MAX as usize) as ffi::Int;
        // SAFETY: buffer valid for `max` bytes; open handle.
        SaneStatus::check(unsafe { ffi::sane_read(self.handle, buf.as_mut_ptr(), max, &mut len) })?;
        Ok(len.max(0) as usize)
    }

    /// Ends the current scan (also the normal way to finish an ADF batch).
    pub(crate) fn cancel_scan(&mut self) {
        // SAFETY: open handle.
        unsafe { ffi::sane_cancel(self.handle) };
    }
}

impl Drop for Device<'_> {
    fn drop(&mut self) {
        self.cancel.detach();
        // SAFETY: the handle is open and no longer reachable by CancelHandle.
        unsafe {
            ffi::sane_cancel(self.handle);
            ffi::sane_close(self.handle);
        }
    }
}
