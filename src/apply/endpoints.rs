//! Gateway endpoints (S3, DynamoDB): ensured on exactly the route tables they
//! serve, deleted before those tables, and compared for drift. AWS adds and
//! removes the endpoints' prefix-list routes itself as tables are attached and
//! detached, so the provider manages the attachment, never the routes.

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;
use tokio::time::Instant;

use super::inventory::Inventory;
use super::run::{client_token, Result, Run};
use super::waiters::{delete_with_retry, poll_until, retry_propagation, retry_scarce_create};
use crate::aws::ec2::{self, route_tables_of, Found};
use crate::aws::AwsClients;
use crate::error::ErrorClass;
use crate::plan::blueprint::{Blueprint, Component};
use crate::plan::drift::{Finding, Repair};
use crate::plan::spec::{EndpointsSpec, EnvironmentSpec};

/// The route tables the endpoints serve: every private one, and the public one
/// when asked.
fn served_tables(endpoints: &EndpointsSpec, public: &str, private: &[String]) -> BTreeSet<String> {
    let mut tables: BTreeSet<String> = private.iter().cloned().collect();
    if endpoints.public_route_table {
        tables.insert(public.to_string());
    }
    tables
}

impl Run<'_> {
    /// Creates each planned endpoint on the served tables, or attaches and
    /// detaches an existing one until it serves exactly them (a removed zone's
    /// table is detached here, before the table itself is deleted).
    pub(super) async fn ensure_gateway_endpoints(
        &self,
        inv: &Inventory,
        vpc_id: &str,
        public_table: &str,
        private_tables: &[String],
    ) -> Result<()> {
        let tables = served_tables(&self.spec.endpoints, public_table, private_tables);
        let region = self
            .clients
            .ec2
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let work = self.spec.endpoints.services.iter().map(|service| {
            let component = Component::GatewayEndpoint(*service);
            let (tables, region) = (&tables, &region);
            async move {
                match inv.object(&component.key()) {
                    Some(found) => {
                        if !ec2::allows_everything(found) {
                            ec2::reset_endpoint_policy(&self.clients.ec2, &found.id).await?;
                        }
                        let current = route_tables_of(found);
                        let add: BTreeSet<String> = tables.difference(&current).cloned().collect();
                        let remove: BTreeSet<String> =
                            current.difference(tables).cloned().collect();
                        if add.is_empty() && remove.is_empty() {
                            return Ok(());
                        }
                        retry_propagation(self.deadline, "gateway endpoint route tables", || {
                            ec2::change_endpoint_route_tables(
                                &self.clients.ec2,
                                &found.id,
                                &add,
                                &remove,
                            )
                        })
                        .await
                    }
                    None => {
                        let token = client_token(&[
                            &self.spec.name,
                            &component.key(),
                            vpc_id,
                            &self.run_id,
                        ]);
                        let tags = self.tags(&component);
                        let service_name = service.service_name(region);
                        retry_scarce_create(self.deadline, "gateway endpoint", || {
                            ec2::create_gateway_endpoint(
                                &self.clients.ec2,
                                vpc_id,
                                &service_name,
                                tables,
                                &token,
                                &tags,
                            )
                        })
                        .await
                        .map(|_| ())
                    }
                }
            }
        });
        try_join_all(work).await.map(|_| ())
    }

    /// Deletes the endpoints of services no longer planned.
    pub(super) async fn remove_gateway_endpoints(
        &self,
        inv: &Inventory,
        planned: &BTreeSet<String>,
    ) -> Result<()> {
        let gone = inv
            .objects_of("vpce/*")
            .filter(|(key, _)| !planned.contains(*key))
            .map(|(_, endpoint)| delete_gateway_endpoint(self.clients, endpoint, self.deadline));
        try_join_all(gone).await.map(|_| ())
    }
}

/// Deletes an endpoint and waits until AWS reports it deleted, so the route
/// tables it served can go next. The delete is asked again while the VPC's
/// list shows the endpoint as anything but `deleting`: for one created
/// moments ago, AWS may answer the delete with "not found" and keep the
/// endpoint. AWS allows few deletes (4 at once, one every 3 seconds after), so
/// none is repeated while the endpoint is on its way out.
pub(super) async fn delete_gateway_endpoint(
    clients: &AwsClients,
    endpoint: &Found,
    deadline: Instant,
) -> Result<()> {
    let (client, batches) = (&clients.ec2, &clients.batches);
    let id = endpoint.id.as_str();
    let delete = || async {
        match ec2::delete_vpc_endpoint(client, batches, id).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            // held a moment longer (a route being changed): asked again below
            Err(e) if matches!(e.class(), ErrorClass::Dependency | ErrorClass::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    };
    let Some(vpc) = endpoint.detail.get("vpc") else {
        return delete_with_retry(deadline, "gateway endpoint", || {
            ec2::delete_vpc_endpoint(client, batches, id)
        })
        .await;
    };
    delete().await?;
    poll_until(
        deadline,
        &format!("gateway endpoint {id} to be deleted"),
        || async {
            let live = ec2::live_gateway_endpoints(client, batches, vpc).await?;
            match live.get(id).map(String::as_str) {
                None => Ok(Some(())),
                Some("deleting") => Ok(None),
                Some(_) => delete().await.map(|()| None),
            }
        },
    )
    .await
}

/// Endpoints attached to other route tables than the configuration says.
pub(super) fn endpoint_drift(
    spec: &EnvironmentSpec,
    bp: &Blueprint,
    inv: &Inventory,
) -> Vec<Finding> {
    let table_id = |component: Component| {
        inv.route_tables
            .get(&component.key())
            .map(|t| (t.id.clone(), component.key()))
    };
    let mut wanted: BTreeMap<String, String> = bp
        .zones
        .iter()
        .filter_map(|zone| table_id(Component::PrivateRouteTable(zone.clone())))
        .collect();
    if spec.endpoints.public_route_table {
        wanted.extend(table_id(Component::PublicRouteTable));
    }
    // tables known by ID: the environment's own, for naming them in the findings
    let names: BTreeMap<String, String> = inv
        .route_tables
        .iter()
        .map(|(key, table)| (table.id.clone(), key.clone()))
        .collect();
    let mut findings = Vec::new();
    for service in &spec.endpoints.services {
        let key = Component::GatewayEndpoint(*service).key();
        let Some(endpoint) = inv.object(&key) else {
            continue;
        };
        if !ec2::allows_everything(endpoint) {
            findings.push(Finding::new(
                &key,
                "has an endpoint policy other than full access, which can deny the environment's own traffic to the service",
                Repair::InPlace("restores the full-access policy"),
            ));
        }
        let current = route_tables_of(endpoint);
        for (id, table) in &wanted {
            if !current.contains(id) {
                findings.push(Finding::new(
                    &key,
                    format!("does not serve {table}"),
                    Repair::InPlace("attaches it"),
                ));
            }
        }
        for id in current.iter().filter(|id| !wanted.contains_key(*id)) {
            let table = names.get(id).unwrap_or(id);
            findings.push(Finding::new(
                &key,
                format!("serves {table}"),
                Repair::InPlace("detaches it"),
            ));
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::ec2::{route_table_list, Found, RouteTable};
    use crate::plan::blueprint::{blueprint, tests::sample_spec};
    use crate::plan::spec::GatewayService;

    fn table(id: &str) -> RouteTable {
        RouteTable {
            id: id.into(),
            ..Default::default()
        }
    }

    fn endpoint(tables: &[&str]) -> Found {
        Found {
            id: "vpce-1".into(),
            tags: Default::default(),
            detail: [(
                "route_tables",
                route_table_list(&tables.iter().map(|t| t.to_string()).collect()),
            )]
            .into(),
        }
    }

    /// An inventory with the public and two private tables, and an S3 endpoint on `tables`.
    fn inventory(tables: &[&str]) -> Inventory {
        Inventory {
            route_tables: [
                ("rtb/public".to_string(), table("rtb-pub")),
                ("rtb/private/us-east-1a".to_string(), table("rtb-a")),
                ("rtb/private/us-east-1b".to_string(), table("rtb-b")),
            ]
            .into(),
            listed: [("vpce/s3".to_string(), endpoint(tables))].into(),
            ..Inventory::default()
        }
    }

    fn drift_of(public: bool, tables: &[&str]) -> Vec<String> {
        let mut spec = sample_spec();
        spec.endpoints.services = [GatewayService::S3].into();
        spec.endpoints.public_route_table = public;
        let zones = ["us-east-1a".to_string(), "us-east-1b".to_string()];
        let bp = blueprint(&spec, &zones).unwrap();
        endpoint_drift(&spec, &bp, &inventory(tables))
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn an_endpoint_on_exactly_the_private_tables_has_no_drift() {
        assert!(drift_of(false, &["rtb-a", "rtb-b"]).is_empty());
        assert!(drift_of(true, &["rtb-a", "rtb-b", "rtb-pub"]).is_empty());
    }

    #[test]
    fn missing_and_extra_tables_are_named() {
        assert_eq!(
            drift_of(false, &["rtb-a", "rtb-pub", "rtb-other"]),
            [
                "vpce/s3 does not serve rtb/private/us-east-1b; apply attaches it",
                "vpce/s3 serves rtb-other; apply detaches it",
                "vpce/s3 serves rtb/public; apply detaches it",
            ]
        );
        assert_eq!(
            drift_of(true, &["rtb-a", "rtb-b"]),
            ["vpce/s3 does not serve rtb/public; apply attaches it"]
        );
    }

    #[test]
    fn served_tables_add_the_public_one_only_when_asked() {
        let mut spec = EndpointsSpec::default();
        let private = ["rtb-a".to_string(), "rtb-b".to_string()];
        assert_eq!(served_tables(&spec, "rtb-pub", &private).len(), 2);
        spec.public_route_table = true;
        assert!(served_tables(&spec, "rtb-pub", &private).contains("rtb-pub"));
    }
}
