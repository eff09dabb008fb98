//! Full-text search of messages: SQLite's FTS5 index (`messages_fts`) or PostgreSQL's `tsvector`
//! column (`messages.search`), both kept in step with every insert, edit and delete by the
//! database (see the migration `m20261208_000003_add_message_search`).
//!
//! A search finds the live messages whose words start with every word of the query (so `hel wor`
//! finds "Hello, world"), in the conversations the user is a current member of (or one of
//! them), never a deleted message or one the user deleted for themselves. Results are ranked
//! (SQLite's `bm25`, PostgreSQL's `ts_rank`), best first, newer first among equals, and read in
//! pages by number or by a keyset cursor that carries on after the last result seen.

use entity::message;
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement};

use crate::error::{AppError, AppResult};
use crate::ids::UserId;
use crate::service::Chat;
use crate::service::store::Params;
use crate::service::views::{MessageView, Page, PageRequest};

/// Longest search query, in characters.
pub const MAX_SEARCH_TERM: usize = 200;
/// Most words a search query may have.
pub const MAX_SEARCH_WORDS: usize = 16;

/// Where a page of ranked results starts: after this result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchCursor {
    /// The result's rank (lower is better).
    rank: f64,
    /// The result's message id.
    id: i64,
}

impl SearchCursor {
    /// The cursor as clients carry it: opaque text.
    pub fn encode(&self) -> String {
        format!("{:016x}.{}", self.rank.to_bits(), self.id)
    }

    /// A cursor a client sent back; `VALIDATION` if it is not one this server gave.
    pub fn decode(text: &str) -> AppResult<Self> {
        let bad = || AppError::validation("cursor is not one this server gave");
        let (rank, id) = text.trim().split_once('.').ok_or_else(bad)?;
        let rank = u64::from_str_radix(rank, 16).map_err(|_| bad())?;
        let rank = f64::from_bits(rank);
        let id = id.parse::<i64>().map_err(|_| bad())?;
        if !rank.is_finite() || id <= 0 {
            return Err(bad());
        }
        Ok(Self { rank, id })
    }
}

/// Which results to read.
#[derive(Clone, Copy, Debug)]
pub enum SearchFrom {
    /// Page `n` (from 1) of pages of the request's limit.
    Page(u64),
    /// The results after this one.
    After(SearchCursor),
}

/// A page of ranked results.
#[derive(Clone, Debug)]
pub struct SearchPage {
    /// The messages, best first.
    pub items: Vec<MessageView>,
    /// How many messages match in all.
    pub total: u64,
    /// Where the next page starts, when there is one.
    pub next: Option<SearchCursor>,
}

impl Chat {
    /// The messages of conversation `conversation_id` (the user must be a member) or, with
    /// `None`, of all the user's conversations, that match `term`: `limit` of them, from
    /// `from`.
    pub async fn search(
        &self,
        user: &UserId,
        conversation_id: Option<i64>,
        term: &str,
        limit: u64,
        from: SearchFrom,
    ) -> AppResult<SearchPage> {
        let words = words(term)?;
        if let Some(id) = conversation_id {
            self.require_participant(user, id).await?;
        }
        if words.is_empty() {
            // Only punctuation: no word can match it.
            return Ok(SearchPage {
                items: Vec::new(),
                total: 0,
                next: None,
            });
        }
        let backend = self.db.get_database_backend();
        let mut params = Params::new(backend);
        let hits = hits(&mut params, backend, user, conversation_id, &words);
        let count = Statement::from_sql_and_values(
            backend,
            format!("{hits} SELECT COUNT(*) AS n FROM hits"),
            params.values.clone(),
        );
        let total = self
            .db
            .query_one_raw(count)
            .await?
            .map(|row| row.try_get::<i64>("", "n"))
            .transpose()?
            .unwrap_or(0);
        let (after, offset) = match from {
            SearchFrom::Page(page) => (String::new(), (page.max(1) - 1) * limit),
            SearchFrom::After(cursor) => {
                // The last result's rank as it is now: SQLite's bm25 weighs words by how rare
                // they are among all messages, so every new message moves every rank a little,
                // and a rank carried from the previous page would no longer sit between the
                // same results. The rank the cursor carries serves when that result is gone.
                let carried = params.push(cursor.rank.into());
                let id = params.push(cursor.id.into());
                let rank = format!("COALESCE((SELECT rank FROM hits WHERE id = {id}), {carried})");
                (
                    format!("WHERE rank > {rank} OR (rank = {rank} AND id < {id})"),
                    0,
                )
            }
        };
        // One more than asked, to know whether a page follows.
        let sql = format!(
            "{hits} SELECT id, rank FROM hits {after} ORDER BY rank ASC, id DESC \
             LIMIT {} OFFSET {offset}",
            limit + 1
        );
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, params.values))
            .await?;
        let mut ranked = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64>("", "id")?,
                    row.try_get::<f64>("", "rank")?,
                ))
            })
            .collect::<Result<Vec<(i64, f64)>, sea_orm::DbErr>>()?;
        let more = ranked.len() as u64 > limit;
        ranked.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next = ranked
            .last()
            .filter(|_| more)
            .map(|&(id, rank)| SearchCursor { rank, id });
        let mut found = message::Entity::find()
            .filter(message::Column::Id.is_in(ranked.iter().map(|(id, _)| *id)))
            .all(&self.db)
            .await?;
        // Back into rank order.
        found.sort_by_key(|m| ranked.iter().position(|(id, _)| *id == m.id));
        let items = self.message_views(found, Some(user)).await?;
        Ok(SearchPage {
            items,
            total: u64::try_from(total).unwrap_or(0),
            next,
        })
    }

    /// Page `page` of the messages of conversation `conversation_id` that match `term`, best
    /// first (see [`Chat::search`]).
    pub async fn search_messages(
        &self,
        user: &UserId,
        conversation_id: i64,
        term: &str,
        page: PageRequest,
    ) -> AppResult<Page<MessageView>> {
        let found = self
            .search(
                user,
                Some(conversation_id),
                term,
                page.limit,
                SearchFrom::Page(page.page),
            )
            .await?;
        Ok(page.wrap(found.items, found.total))
    }
}

/// The words of a search query (letters and digits; the rest separates words): `VALIDATION`
/// for an empty, overlong or control-character query, or one of too many words. A query of
/// punctuation alone has no words.
fn words(term: &str) -> AppResult<Vec<String>> {
    let term = term.trim();
    if term.is_empty() {
        return Err(AppError::validation("q must not be empty"));
    }
    if term.chars().count() > MAX_SEARCH_TERM {
        return Err(AppError::validation(format!(
            "q must be at most {MAX_SEARCH_TERM} characters"
        )));
    }
    if term.chars().any(char::is_control) {
        return Err(AppError::validation(
            "q must not contain control characters",
        ));
    }
    let words: Vec<String> = term
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.len() > MAX_SEARCH_WORDS {
        return Err(AppError::validation(format!(
            "q must have at most {MAX_SEARCH_WORDS} words"
        )));
    }
    Ok(words)
}

/// The `WITH hits AS (...)` clause: `(id, rank)` of every match the user may see.
fn hits(
    params: &mut Params,
    backend: DbBackend,
    user: &UserId,
    conversation_id: Option<i64>,
    words: &[String],
) -> String {
    let user_param = params.push(user.key().into());
    let scope = match conversation_id {
        Some(id) => format!("m.conversation_id = {}", params.push(id.into())),
        None => format!(
            "m.conversation_id IN (SELECT conversation_id FROM participants \
             WHERE user_id = {user_param} AND left_at IS NULL)"
        ),
    };
    let visible = format!(
        "m.deleted_at IS NULL AND {scope} AND m.id NOT IN \
         (SELECT message_id FROM hidden_messages WHERE user_id = {user_param})"
    );
    match backend {
        DbBackend::Postgres => {
            // Each word a prefix lexeme; words hold letters and digits only.
            let query: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
            let query = params.push(query.join(" & ").into());
            format!(
                "WITH hits AS MATERIALIZED (SELECT m.id AS id, \
                 CAST(-ts_rank(m.search, q.query) AS DOUBLE PRECISION) AS rank \
                 FROM messages m, (SELECT to_tsquery('simple', {query}) AS query) q \
                 WHERE m.search @@ q.query AND {visible})"
            )
        }
        _ => {
            // Each word a quoted prefix; words hold letters and digits only.
            let query: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
            let query = params.push(query.join(" ").into());
            format!(
                "WITH hits AS MATERIALIZED (SELECT m.id AS id, bm25(messages_fts) AS rank \
                 FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid \
                 WHERE messages_fts MATCH {query} AND {visible})"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_its_words_and_a_cursor_round_trips() {
        assert_eq!(
            words(" Hello, wörld! 100% ").unwrap(),
            ["hello", "wörld", "100"]
        );
        assert!(words("%_").unwrap().is_empty());
        for bad in ["", "   ", "a\u{0}b", &"x".repeat(201), &"a ".repeat(17)] {
            assert!(words(bad).is_err(), "{bad:?}");
        }
        let cursor = SearchCursor {
            rank: -1.25e-6,
            id: 42,
        };
        assert_eq!(SearchCursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in [
            "",
            "x",
            "1.2.3",
            "zz.4",
            "0000000000000000.-1",
            "7ff0000000000000.1",
        ] {
            assert!(SearchCursor::decode(bad).is_err(), "{bad:?}");
        }
    }
}
