//! Pagination by `limit` and `offset`: simple for scripts, and every list here has a stable
//! order (requests newest first, jobs as the store lists them, audit events by seq). A page
//! says `next_offset`, or null when it is the last.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::problem::{Code, Problem};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 500; 50 when not given.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<usize>,
    /// Items to skip; 0 when not given.
    #[param(minimum = 0)]
    pub offset: Option<usize>,
}

impl PageQuery {
    /// The checked (limit, offset); a limit outside 1..=500 is a 400, not silently changed.
    pub fn checked(self) -> Result<(usize, usize), Problem> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(Problem::new(
                Code::BadRequest,
                format!("limit must be from 1 to {MAX_LIMIT}, not {limit}"),
            ));
        }
        Ok((limit, self.offset.unwrap_or(0)))
    }

    /// How many items to read to know whether another page follows, or `None` when
    /// offset + limit does not fit (nothing can be that far).
    pub fn window(self) -> Result<Option<usize>, Problem> {
        let (limit, offset) = self.checked()?;
        Ok(offset.checked_add(limit).and_then(|n| n.checked_add(1)))
    }
}

/// One page of `items`, cut from everything up to one past its end.
pub fn cut<T>(all: Vec<T>, q: PageQuery) -> Result<Page<T>, Problem> {
    let (limit, offset) = q.checked()?;
    let more = all.len() > offset.saturating_add(limit);
    let items: Vec<T> = all.into_iter().skip(offset).take(limit).collect();
    Ok(Page {
        items,
        limit,
        offset,
        next_offset: more.then(|| offset + limit),
    })
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: usize,
    pub offset: usize,
    /// The offset of the next page; null on the last.
    pub next_offset: Option<usize>,
}
