//! Taking in copy requests, whoever brings them: `quire request add` and `import`, the
//! console's form and the HTTP API (and later ISO 18626). Every request is checked the same
//! way, and a batch is added in one transaction, all or none.

use quire_state::{Database, Request, StateError};

/// A request refused at the door, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub id: String,
    pub problems: Vec<String>,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.id, self.problems.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// Some requests are not valid; none was added.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" | "))]
    Invalid(Vec<Refused>),
    #[error(transparent)]
    State(#[from] StateError),
}

/// Every problem in `requests`, one entry per request that has any.
pub fn check(requests: &[Request]) -> Vec<Refused> {
    requests
        .iter()
        .filter_map(|r| {
            let problems = r.problems();
            (!problems.is_empty()).then(|| Refused {
                id: r.id.clone(),
                problems,
            })
        })
        .collect()
}

/// Adds `requests` if every one of them is valid (see [`Request::problems`]); a request id
/// that already exists is refused by the database, and then none is added either. Held scans
/// that arrived first, named for one of them, are matched to it at once
/// ([`crate::jobs::match_waiting`]); returns those.
pub fn add(
    db: &dyn Database,
    config: &quire_config::Config,
    requests: &[Request],
    actor: &str,
) -> Result<Vec<crate::jobs::Matched>, AddError> {
    let refused = check(requests);
    if !refused.is_empty() {
        return Err(AddError::Invalid(refused));
    }
    db.requests_add(requests, actor)?;
    let mut matched = Vec::new();
    for r in requests {
        matched.extend(crate::jobs::match_waiting(db, config, &r.id, &[])?);
    }
    Ok(matched)
}

/// A person sets the copyright basis of `id` (see
/// [`RequestRepo::request_set_basis`](quire_state::RequestRepo::request_set_basis)): `permission`
/// needs its reference, as when a request is added.
pub fn set_basis(
    db: &dyn Database,
    id: &str,
    basis: quire_domain::Basis,
    reference: Option<&str>,
    actor: &str,
) -> Result<quire_domain::Request, AddError> {
    let reference = reference.map(str::trim).filter(|r| !r.is_empty());
    if basis == quire_domain::Basis::Permission && reference.is_none() {
        return Err(AddError::Invalid(vec![Refused {
            id: id.to_string(),
            problems: vec![
                "basis `permission` needs a reference (e.g. the CCC order number)".into(),
            ],
        }]));
    }
    let event = quire_state::NewEvent::new(actor, quire_domain::Action::RequestBasisSet)
        .subject("request", id)
        .details(serde_json::json!({ "basis": basis.as_str(), "reference": reference }));
    Ok(db.request_set_basis(id, basis, reference, event)?)
}

/// Corrects the citation of `id` before a copy goes out, checked as an added request is (see
/// [`RequestRepo::request_set_citation`](quire_state::RequestRepo::request_set_citation) for
/// when it is refused). The event names the fields that changed, old and new.
pub fn set_citation(
    db: &dyn Database,
    id: &str,
    citation: quire_domain::Citation,
    actor: &str,
) -> Result<Request, AddError> {
    change_citation(db, id, |_| citation, actor)
}

/// [`set_citation`] with only the fields `given` has changed, by
/// [`quire_domain::Citation::updated`]'s rule (an empty text clears): the API's PATCH and
/// `quire request citation`.
pub fn correct_citation(
    db: &dyn Database,
    id: &str,
    given: quire_domain::Citation,
    actor: &str,
) -> Result<Request, AddError> {
    change_citation(db, id, |stored| stored.updated(given), actor)
}

fn change_citation(
    db: &dyn Database,
    id: &str,
    new: impl FnOnce(quire_domain::Citation) -> quire_domain::Citation,
    actor: &str,
) -> Result<Request, AddError> {
    let stored = db
        .request_get(id)?
        .ok_or_else(|| StateError::NotFound(format!("no request {id}")))?;
    let before = serde_json::to_value(stored.citation_fields()).unwrap_or_default();
    let citation = new(stored.citation_fields());
    let changed = stored.with_citation(citation.clone());
    let problems = changed.problems();
    if !problems.is_empty() {
        return Err(AddError::Invalid(vec![Refused {
            id: id.to_string(),
            problems,
        }]));
    }
    let after = serde_json::to_value(&citation).unwrap_or_default();
    let mut fields = serde_json::Map::new();
    if let (Some(b), Some(a)) = (before.as_object(), after.as_object()) {
        for (name, new) in a {
            let old = b.get(name).cloned().unwrap_or_default();
            if old != *new {
                fields.insert(name.clone(), serde_json::json!({ "from": old, "to": new }));
            }
        }
    }
    let event = quire_state::NewEvent::new(actor, quire_domain::Action::RequestCitationSet)
        .subject("request", id)
        .details(serde_json::json!({ "changed": fields }));
    Ok(db.request_set_citation(id, &citation, event)?)
}

/// Cancels `id`: no copy will be delivered for it (refused once one was, see
/// [`RequestRepo::request_cancel`](quire_state::RequestRepo::request_cancel)). Its scans
/// waiting to be delivered are held; one still being processed is held when it finishes
/// ([`crate::review::assess`] asks).
pub fn cancel(
    db: &dyn Database,
    id: &str,
    reason: &str,
    actor: &str,
) -> Result<quire_domain::Cancellation, StateError> {
    let reason = reason.trim();
    let cancellation = quire_domain::Cancellation {
        at: quire_domain::Timestamp::now(),
        by: actor.to_string(),
        reason: if reason.is_empty() {
            "no reason given".to_string()
        } else {
            reason.to_string()
        },
    };
    let event = quire_state::NewEvent::new(actor, quire_domain::Action::RequestCancelled)
        .subject("request", id)
        .details(serde_json::json!({ "reason": cancellation.reason }));
    db.request_cancel(id, &cancellation, event)?;
    crate::jobs::hold_for_cancel(
        db,
        id,
        actor,
        &format!("request cancelled: {}", cancellation.reason),
    )?;
    Ok(cancellation)
}

/// What [`add_or_same`] did.
#[derive(Debug, Clone)]
pub struct Added {
    /// Every request asked for, as stored, in the order given.
    pub stored: Vec<Request>,
    /// The ids added now; the others existed already with the same fields.
    pub created: Vec<String>,
    /// Held scans matched to a new request (see [`add`]).
    pub matched: Vec<crate::jobs::Matched>,
}

/// [`add`], made safe to retry: a request whose id exists already with the same fields is
/// taken as done (a client repeating a create after a lost answer), and only the others are
/// added. An id that exists with other fields is a `Conflict`, and then nothing is added.
pub fn add_or_same(
    db: &dyn Database,
    config: &quire_config::Config,
    requests: &[Request],
    actor: &str,
) -> Result<Added, AddError> {
    let refused = check(requests);
    if !refused.is_empty() {
        return Err(AddError::Invalid(refused));
    }
    let mut new = Vec::new();
    let mut differ = Vec::new();
    let mut stored_of = std::collections::HashMap::new();
    for r in requests {
        match db.request_get(&r.id)? {
            Some(stored) => {
                let same = Request {
                    created_at: stored.created_at,
                    ..r.clone()
                } == stored;
                if !same {
                    differ.push(r.id.clone());
                }
                stored_of.insert(r.id.clone(), stored);
            }
            None => new.push(r.clone()),
        }
    }
    if !differ.is_empty() {
        return Err(AddError::State(StateError::Conflict(format!(
            "request {} exists already with other fields; nothing was added",
            differ.join(", ")
        ))));
    }
    let matched = add(db, config, &new, actor)?;
    let mut stored = Vec::with_capacity(requests.len());
    for r in requests {
        match stored_of.remove(&r.id) {
            Some(s) => stored.push(s),
            None => stored.push(
                db.request_get(&r.id)?
                    .ok_or_else(|| StateError::NotFound(format!("no request {}", r.id)))?,
            ),
        }
    }
    Ok(Added {
        stored,
        created: new.into_iter().map(|r| r.id).collect(),
        matched,
    })
}
