//! Ranking tiers, best first; a query's score is the sum over its terms.

pub const EXACT_ID: u8 = 0;
pub const ID_PREFIX: u8 = 1;
pub const ID_PART: u8 = 2;
pub const TITLE_OR_TAGS: u8 = 4;
pub const DESCRIPTION_OR_AUTHORS: u8 = 5;
/// Not matched.
pub const NONE: u8 = u8::MAX;
