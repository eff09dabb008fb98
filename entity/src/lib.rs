//! parley's sea-orm entities, one module per table.
//!
//! # Layout
//!
//! - [`user`]: everyone a token has named, with display details and last-seen time.
//! - [`conversation`]: a direct (two people, one per pair) or group conversation, with the
//!   preview of its last message and the last `seq` it handed out.
//! - [`participant`]: who is in which conversation, their role and read position.
//! - [`message`]: the messages, numbered by a gapless per-conversation `seq`.
//! - [`message_edit`]: the content each edit of a message replaced.
//! - [`read_mark`]: every move of a read position, for who read a message and when.
//! - [`block`]: who blocks whom.
//! - [`reaction`]: emoji reactions to messages.
//! - [`hidden_message`]: messages a member deleted for themselves only.
//! - [`media_file`]: uploaded files.

pub mod block;
pub mod conversation;
pub mod hidden_message;
pub mod media_file;
pub mod message;
pub mod message_edit;
pub mod participant;
pub mod reaction;
pub mod read_mark;
pub mod user;

/// Entities and their column enums, for `use entity::prelude::*`.
pub mod prelude {
    pub use crate::block::Entity as Block;
    pub use crate::conversation::Entity as Conversation;
    pub use crate::hidden_message::Entity as HiddenMessage;
    pub use crate::media_file::Entity as MediaFile;
    pub use crate::message::Entity as Message;
    pub use crate::message_edit::Entity as MessageEdit;
    pub use crate::participant::Entity as Participant;
    pub use crate::reaction::Entity as Reaction;
    pub use crate::read_mark::Entity as ReadMark;
    pub use crate::user::Entity as User;
}
