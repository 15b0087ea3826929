//! Staff roles and what each may open. Borrowers have none: they only ever hold a `/d/` link.

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
