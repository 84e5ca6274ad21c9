//! Which per-subscription listeners (`subscribe(filter, options, onMessage)`) a received
//! message goes to: a topic trie of routes by filter, each its listeners and the
//! subscription identifier the filter was last subscribed with (MQTT 5), which the client
//! picks itself for a listener's subscription when the application did not. It never calls
//! a listener: it returns them, for the driver to call after its borrow is released.

use js_sys::{Function, Object};

use crate::mqtt::codec::{Properties, Publish};
use crate::mqtt::topic::TopicTrie;

/// Subscription identifiers the client picks itself (for routing to listeners) count up
/// from here, well above the small numbers applications tend to choose.
const FIRST_AUTO_SUBSCRIPTION_ID: u32 = 0x0F00_0000;
/// The largest subscription identifier MQTT allows.
const MAX_SUBSCRIPTION_ID: u32 = 268_435_455;

/// The listeners of one filter, and its subscription identifier. A filter without
/// listeners has no route: the identifier only ever selects listeners.
struct Route {
    id: Option<u32>,
    /// Whether the client picked `id` itself ([`Routing::identify`]).
    own_id: bool,
    listeners: Vec<Function>,
}

pub(super) struct Routing {
    routes: TopicTrie<Route>,
    next_subscription_id: u32,
}

impl Routing {
    pub fn new() -> Self {
        Routing {
            routes: TopicTrie::new(),
            next_subscription_id: FIRST_AUTO_SUBSCRIPTION_ID,
        }
    }

    /// Gives a listener's subscription an identifier when it has none, so the copies a
    /// broker sends for overlapping subscriptions reach only the listener they are for.
    /// Returns the identifier the subscription will carry, if any, and whether the client
    /// picked it.
    pub fn identify(
        &mut self,
        properties: &mut Properties,
        has_listener: bool,
    ) -> Option<(u32, bool)> {
        let ids = &mut properties.subscription_identifiers;
        if let Some(&id) = ids.first() {
            return Some((id, false));
        }
        if !has_listener {
            return None;
        }
        let id = self.next_subscription_id;
        self.next_subscription_id = if id >= MAX_SUBSCRIPTION_ID {
            FIRST_AUTO_SUBSCRIPTION_ID
        } else {
            id + 1
        };
        ids.push(id);
        Some((id, true))
    }

    /// SUBSCRIBE sent for `filters` with identifier `id` (from [`Routing::identify`]):
    /// `listener` gets their messages.
    pub fn subscribed(
        &mut self,
        filters: &[String],
        id: Option<(u32, bool)>,
        listener: Option<&Function>,
    ) {
        let own_id = id.is_some_and(|(_, own)| own);
        let id = id.map(|(id, _)| id);
        for name in filters {
            match (self.routes.get_mut(name), listener) {
                (Some(route), l) => {
                    route.id = id;
                    route.own_id = own_id;
                    if let Some(l) = l {
                        route.listeners.push(l.clone());
                    }
                }
                (None, Some(l)) => {
                    let listeners = vec![l.clone()];
                    let route = Route {
                        id,
                        own_id,
                        listeners,
                    };
                    self.routes.insert(name, route);
                }
                (None, None) => {}
            }
        }
    }

    /// `listener` no longer gets the messages of `filter` (the broker refused it).
    pub fn remove(&mut self, filter: &str, listener: &Function) {
        let Some(route) = self.routes.get_mut(filter) else {
            return;
        };
        let list = &mut route.listeners;
        if let Some(i) = list.iter().position(|f| Object::is(f, listener)) {
            list.remove(i);
        }
        if list.is_empty() {
            self.routes.remove(filter);
        }
    }

    /// UNSUBSCRIBE sent: no listener gets the messages of `filters` any more.
    pub fn unsubscribed(&mut self, filters: &[String]) {
        for f in filters {
            self.routes.remove(f);
        }
    }

    /// The listeners `p` goes to, each once even when several of its filters match. When
    /// the PUBLISH names the subscriptions it is for (v5 subscription identifiers; a
    /// broker may send one copy per matching subscription), only their listeners get it.
    /// The identifiers the client picked itself are then taken out of `p`: the
    /// application never chose them, and its message shows only its own.
    pub fn listeners_for(&self, p: &mut Publish) -> Vec<Function> {
        let ids = &p.properties.subscription_identifiers;
        let mut seen: Vec<Function> = Vec::new();
        let mut own: Option<Vec<u32>> = None;
        self.routes.for_each_match(&p.topic, |_, route| {
            if !ids.is_empty() {
                match route.id {
                    Some(id) if ids.contains(&id) => {
                        if route.own_id {
                            own.get_or_insert_with(Vec::new).push(id);
                        }
                    }
                    _ => return,
                }
            }
            for f in &route.listeners {
                if !seen.iter().any(|s| Object::is(s, f)) {
                    seen.push(f.clone());
                }
            }
        });
        if let Some(own) = own {
            p.properties
                .subscription_identifiers
                .retain(|id| !own.contains(id));
        }
        seen
    }
}
