//! Staff users, their roles and what each may open, their sessions, and the changes an admin
//! makes. Borrowers have none of these: they only ever hold a `/d/` link.

use serde::Serialize;

use crate::Timestamp;

named! {
    /// A staff role.
    pub enum Role ("role") {
        /// Reviews scans: the job queue, releases, reprocessing, matching, links.
        Technician = "technician",
        /// Copyright compliance: audit log, held deliveries, the CONTU report, links.
        Compliance = "compliance",
        /// Everything.
        Admin = "admin",
    }
}

/// A group of console pages (and the operations behind them) under one role check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Jobs,
    Requests,
    Compliance,
}

impl Role {
    pub fn may(self, area: Area) -> bool {
        matches!(
            (self, area),
            (Self::Admin, _)
                | (_, Area::Requests)
                | (Self::Technician, Area::Jobs)
                | (Self::Compliance, Area::Compliance)
        )
    }
}

/// Someone who works in the console. Borrowers are never users.
#[derive(Debug, Clone, Serialize)]
pub struct StaffUser {
    pub name: String,
    /// `technician`, `compliance` or `admin`.
    pub role: String,
    /// An argon2 PHC string.
    #[serde(skip)]
    pub password: String,
    pub created_at: Timestamp,
}

/// A signed-in browser. Only the SHA-256 of its id is stored.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub id_sha256: String,
    pub user_name: String,
    pub csrf: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// What an admin changes about a staff user. Every change ends the user's open sessions, so a
/// new password or a lower role takes effect at once, and a removed user is signed out.
#[derive(Debug, Clone)]
pub enum UserChange {
    /// A new argon2 PHC string.
    Password(String),
    Role(String),
    Remove,
}

impl UserChange {
    pub fn action(&self) -> crate::Action {
        use crate::Action;
        match self {
            Self::Password(_) => Action::UserPasswordChanged,
            Self::Role(_) => Action::UserRoleChanged,
            Self::Remove => Action::UserRemoved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_reach_only_their_areas() {
        assert!(Role::Technician.may(Area::Jobs) && !Role::Technician.may(Area::Compliance));
        assert!(Role::Compliance.may(Area::Compliance) && !Role::Compliance.may(Area::Jobs));
        assert!(Role::Admin.may(Area::Jobs) && Role::Admin.may(Area::Compliance));
        assert!(
            [Role::Technician, Role::Compliance, Role::Admin]
                .iter()
                .all(|r| r.may(Area::Requests))
        );
    }
}
