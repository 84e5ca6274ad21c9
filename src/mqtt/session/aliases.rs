//! Topic aliases of one connection (MQTT 5.0 section 3.3.2.3.4): which alias stands for
//! which topic on the way out, and what the broker's aliases stand for on the way in. Both
//! maps die with their connection [MQTT-3.3.2-7]; an outbound alias counts as known to the
//! broker only once it went out together with its topic, and an alias is never handed out
//! beyond the maximum the other side announced.

use super::SessionError;
use crate::map::VecMap;
use crate::mqtt::codec::{Publish, ReasonCode};

/// How the next PUBLISH to a topic can use an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outbound {
    /// No alias: the topic goes out alone.
    None,
    /// The broker knows this alias: it goes out instead of the topic.
    Known(u16),
    /// A new alias, sent together with its topic; [`Aliases::confirm`] once it is written.
    New(u16),
}

/// Both directions' aliases for the current connection.
#[derive(Debug, Default)]
pub(super) struct Aliases {
    outbound: VecMap<String, u16>,
    inbound: VecMap<u16, String>,
}

impl Aliases {
    /// A new connection starts with no alias either way.
    pub(super) fn clear(&mut self) {
        self.outbound.clear();
        self.inbound.clear();
    }

    /// The alias choice for `topic` when the broker allows `maximum` aliases.
    pub(super) fn outbound(&self, topic: &str, maximum: u16) -> Outbound {
        if let Some(&alias) = self.outbound.get(topic) {
            Outbound::Known(alias)
        } else if self.outbound.len() < usize::from(maximum) {
            // At most `maximum` (a u16) entries, so the next alias fits a u16.
            Outbound::New(self.outbound.len() as u16 + 1)
        } else {
            Outbound::None
        }
    }

    /// `alias` went out together with `topic`: from now on it can stand for it.
    pub(super) fn confirm(&mut self, topic: &str, alias: u16) {
        self.outbound.insert(topic.to_string(), alias);
    }

    /// Resolves the alias of an inbound PUBLISH to its topic (learning it when the topic
    /// comes with it). `maximum` is the topic alias maximum we announced.
    pub(super) fn resolve(&mut self, p: &mut Publish, maximum: u16) -> Result<(), SessionError> {
        let Some(alias) = p.properties.topic_alias else {
            return Ok(());
        };
        if alias == 0 || alias > maximum {
            // [MQTT-3.3.2-9] [MQTT-3.3.2-10]
            return Err(SessionError::protocol(
                ReasonCode::TopicAliasInvalid,
                "topic alias out of range",
            ));
        }
        if !p.topic.is_empty() {
            self.inbound.insert(alias, p.topic.clone());
            return Ok(());
        }
        match self.inbound.get(&alias) {
            Some(topic) => {
                p.topic = topic.clone();
                Ok(())
            }
            None => Err(SessionError::protocol(
                ReasonCode::ProtocolError,
                "unknown topic alias",
            )),
        }
    }
}
