//! The feed's ClusterIP Service, port 80 to the feed server's named port.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::metadata::meta;
use crate::consts::{COMPONENT_SERVER, SERVER_PORT_NAME, SERVICE_PORT};
use crate::reconcile::names;
use crate::reconcile::validate::ValidatedFeed;

pub(super) fn build(feed: &ValidatedFeed) -> Service {
    Service {
        metadata: meta(feed, names::workload(&feed.feed), COMPONENT_SERVER),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(names::selector_labels(&feed.feed)),
            ports: Some(vec![ServicePort {
                name: Some(SERVER_PORT_NAME.to_owned()),
                port: SERVICE_PORT,
                target_port: Some(IntOrString::String(SERVER_PORT_NAME.to_owned())),
                // Server-side apply needs `protocol` set: it is part of the ports list's merge
                // key, and apiservers before 1.20's fix reject an apply without it.
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::reconcile::fixtures::{EXAMPLE, to_json, validated};

    /// SSA merges Service ports by port and protocol; an apply without protocol is refused by
    /// some apiservers.
    #[test]
    fn service_ports_name_their_protocol() {
        let s = to_json(&build(&validated(EXAMPLE)));
        assert_eq!(s["spec"]["ports"][0]["protocol"], json!("TCP"));
        assert_eq!(s["spec"]["ports"][0]["targetPort"], json!("http"));
    }
}
