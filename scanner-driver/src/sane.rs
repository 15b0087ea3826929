//! The libsane library as a value: initialised once, listing devices, opening one.
//!
//! libsane and its backends are not re-entrant, so a process-wide lock is held for as long as a
//! [`Sane`] lives: two threads (or two tests) scanning at once take turns instead of corrupting
//! the backend's state. Cancelling is the one call allowed from elsewhere (see `cancel.rs`).

use std::ffi::{CStr, CString};
use std::sync::{Mutex, MutexGuard};

use crate::device::Device;
use crate::error::{SaneStatus, ScanError};
use crate::ffi;

static LIBRARY: Mutex<()> = Mutex::new(());

/// A device as SANE lists it.
#[derive(Debug, Clone)]
pub struct DeviceInfo {
    /// What `--device` takes, e.g. `fujitsu:ScanSnap iX1500:1234` or `test:0`.
    pub name: String,
    pub vendor: String,
    pub model: String,
    pub kind: String,
}

/// libsane, initialised. Dropping it calls `sane_exit` and releases the lock.
pub struct Sane {
    _lock: MutexGuard<'static, ()>,
}

impl Sane {
    /// Waits for any other user of libsane in this process, then initialises it.
    pub fn init() -> Result<Self, ScanError> {
        let lock = LIBRARY
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut version = 0;
        // SAFETY: no authorisation callback; the lock guarantees no concurrent init/exit.
        let status = unsafe { ffi::sane_init(&mut version, None) };
        SaneStatus::check(status).map_err(|status| ScanError::Init { status })?;
        Ok(Self { _lock: lock })
    }

    pub fn devices(&self) -> Result<Vec<DeviceInfo>, ScanError> {
        let mut list: *mut *const ffi::Device = std::ptr::null_mut();
        // SAFETY: SANE fills `list` with a NULL-terminated array valid until the next call.
        let status = unsafe { ffi::sane_get_devices(&mut list, 0) };
        SaneStatus::check(status).map_err(|status| ScanError::Init { status })?;
        let mut out = Vec::new();
        if list.is_null() {
            return Ok(out);
        }
        let field = |p: *const std::ffi::c_char| {
            if p.is_null() {
                String::new()
            } else {
                // SAFETY: NUL-terminated strings owned by the backend.
                unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
            }
        };
        // SAFETY: walking the NULL-terminated array SANE returned.
        unsafe {
            let mut p = list;
            while !(*p).is_null() {
                let d = &**p;
                out.push(DeviceInfo {
                    name: field(d.name),
                    vendor: field(d.vendor),
                    model: field(d.model),
                    kind: field(d.kind),
                });
                p = p.add(1);
            }
        }
        Ok(out)
    }

    /// Opens the named device, or the first one listed when `wanted` is `None`.
    pub fn open(&self, wanted: Option<&str>) -> Result<Device<'_>, ScanError> {
        let name = match wanted {
            Some(name) => name.to_string(),
            None => {
                self.devices()?
                    .into_iter()
                    .next()
                    .ok_or(ScanError::NoDevices)?
                    .name
            }
        };
        let c_name = CString::new(name.clone()).map_err(|_| ScanError::DeviceNotFound {
            wanted: name.clone(),
            available: Vec::new(),
        })?;
        let mut handle: ffi::Handle = std::ptr::null_mut();
        // SAFETY: valid C string and out-pointer; the lock is held.
        let status = unsafe { ffi::sane_open(c_name.as_ptr(), &mut handle) };
        match SaneStatus::check(status) {
            Ok(()) => Device::new(self, handle, name),
            Err(SaneStatus::Invalid) => {
                let available = self.devices()?.into_iter().map(|d| d.name).collect();
                Err(ScanError::DeviceNotFound {
                    wanted: name,
                    available,
                })
            }
            Err(status) => Err(ScanError::Open {
                device: name,
                status,
            }),
        }
    }
}

impl Drop for Sane {
    fn drop(&mut self) {
        // SAFETY: every Device borrows self, so all handles are closed by now.
        unsafe { ffi::sane_exit() };
    }
}
