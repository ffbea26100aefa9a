//! The feed's ClusterIP Service, port 80 to the feed server's named port.

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::meta;
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
