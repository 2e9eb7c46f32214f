//! Lakes in object storage: where a lake is (`LakeLocation`), the object stores that reach it
//! (`LakeObjectStores`, which every process of a cluster installs so that the scheduler and
//! the executors open the same files), and the catalog of a lake read through an object store.
//!
//! Credentials come from the environment, as the `object_store` crate reads them:
//! `AZURE_STORAGE_ACCOUNT_NAME` with `AZURE_STORAGE_ACCOUNT_KEY` (or a SAS token, a client
//! secret, a managed identity) for `az://` and `abfss://`, `AWS_ACCESS_KEY_ID` and friends for
//! `s3://`. Every process that reads the lake needs them: the client (it reads the manifest),
//! the scheduler (it plans the scan) and the executors (they read the files).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use futures::TryStreamExt;
use goshawk_ingest::{MANIFEST_FILE, ManifestLog};
use goshawk_kql_engine::catalog::{Catalog, LakeTable, TableRef};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use url::Url;

use crate::ClusterError;

/// Where a lake is: a directory, or an object store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LakeLocation {
    Directory(PathBuf),
    Url(Url),
}

/// The URL schemes a lake may have.
const SCHEMES: &[&str] = &["file", "az", "azure", "abfs", "abfss", "adl", "s3", "s3a"];

impl LakeLocation {
    /// `az://container/path`, `abfss://container@account.dfs.core.windows.net/path`,
    /// `s3://bucket/path`, `file:///path` are URLs; anything else is a directory.
    pub fn parse(text: &str) -> Result<LakeLocation, ClusterError> {
        let Some((scheme, _)) = text.split_once("://") else {
            return Ok(LakeLocation::Directory(PathBuf::from(text)));
        };
        if !SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
            return Err(ClusterError::BadLakeUrl {
                url: text.to_string(),
                reason: format!(
                    "unknown scheme '{scheme}' (use a directory or one of {})",
                    SCHEMES.join(", ")
                ),
            });
        }
        let url = Url::parse(text).map_err(|err| ClusterError::BadLakeUrl {
            url: text.to_string(),
            reason: err.to_string(),
        })?;
        Ok(LakeLocation::Url(url))
    }
}

/// An object store for `url`'s bucket or container, configured from the environment.
fn store_for(url: &Url) -> Result<Arc<dyn ObjectStore>, object_store::Error> {
    let store: Arc<dyn ObjectStore> = match url.scheme() {
        "file" => Arc::new(object_store::local::LocalFileSystem::new()),
        "az" | "azure" | "abfs" | "abfss" | "adl" => Arc::new(
            object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        "s3" | "s3a" => Arc::new(
            object_store::aws::AmazonS3Builder::from_env()
                .with_url(url.as_str())
                .build()?,
        ),
        other => {
            return Err(object_store::Error::Generic {
                store: "goshawk",
                source: format!("no object store for the URL scheme '{other}'").into(),
            });
        }
    };
    Ok(store)
}

/// DataFusion's object store registry, which also opens the store of a lake URL it meets for
/// the first time (a scheduler or executor learns of a lake from the plans it is sent).
#[derive(Debug, Default)]
pub struct LakeObjectStores {
    known: DefaultObjectStoreRegistry,
}

impl ObjectStoreRegistry for LakeObjectStores {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.known.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        self.known.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> DfResult<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.known.get_store(url) {
            return Ok(store);
        }
        let store = store_for(url).map_err(|err| DataFusionError::ObjectStore(Box::new(err)))?;
        self.known.register_store(url, Arc::clone(&store));
        Ok(store)
    }
}

/// A lake read through an object store: its committed data files, by table.
pub struct ObjectStoreLakeCatalog {
    tables: BTreeMap<&'static str, Vec<(NaiveDate, String)>>,
}

impl ObjectStoreLakeCatalog {
    /// Reads the lake's manifest and lists its files once; queries then see this snapshot.
    pub async fn open(url: &Url) -> Result<ObjectStoreLakeCatalog, ClusterError> {
        let store = store_for(url).map_err(|source| ClusterError::ObjectStore {
            url: url.to_string(),
            source,
        })?;
        let prefix =
            ObjectPath::from_url_path(url.path()).map_err(|err| ClusterError::BadLakeUrl {
                url: url.to_string(),
                reason: err.to_string(),
            })?;
        let manifest_path = prefix.clone().join(MANIFEST_FILE);
        let manifest = match store.get(&manifest_path).await {
            Ok(found) => found
                .bytes()
                .await
                .map_err(|source| ClusterError::ObjectStore {
                    url: url.to_string(),
                    source,
                })?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ClusterError::Manifest {
                    url: format!("{}/{MANIFEST_FILE}", url.as_str().trim_end_matches('/')),
                    reason: "not found (is this a goshawk lake? `goshawk ingest --data DIR` \
                             writes one)"
                        .to_string(),
                });
            }
            Err(source) => {
                return Err(ClusterError::ObjectStore {
                    url: url.to_string(),
                    source,
                });
            }
        };
        let text = std::str::from_utf8(&manifest).map_err(|err| ClusterError::Manifest {
            url: manifest_path.to_string(),
            reason: err.to_string(),
        })?;
        let log = ManifestLog::parse(text);

        let base = &url[..url::Position::BeforePath];
        let listed: Vec<_> = store
            .list(Some(&prefix))
            .try_collect()
            .await
            .map_err(|source| ClusterError::ObjectStore {
                url: url.to_string(),
                source,
            })?;
        let mut tables: BTreeMap<&'static str, Vec<(NaiveDate, String)>> = BTreeMap::new();
        let mut seen = HashSet::new();
        for object in listed {
            let location = object.location.as_ref();
            let relative = match prefix.as_ref() {
                "" => location,
                prefix => match location
                    .strip_prefix(prefix)
                    .and_then(|rest| rest.strip_prefix('/'))
                {
                    Some(relative) => relative,
                    None => continue,
                },
            };
            let mut parts = relative.split('/');
            let (Some(table), Some(day), Some(name), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Some(schema) = goshawk_types::table_schema(table) else {
                continue;
            };
            let Some(day) = day
                .strip_prefix("day=")
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            else {
                continue;
            };
            if schema.name != table
                || !name.ends_with(".parquet")
                || !log.is_live(relative)
                || !seen.insert(location.to_string())
            {
                continue;
            }
            tables
                .entry(schema.name)
                .or_default()
                .push((day, format!("{base}/{location}")));
        }
        Ok(ObjectStoreLakeCatalog { tables })
    }
}

impl Catalog for ObjectStoreLakeCatalog {
    fn table(&self, name: &str) -> Option<TableRef> {
        let (table, files) = self.tables.get_key_value(name)?;
        let schema = goshawk_types::table_schema(table)?;
        let provider = Arc::new(LakeTable::new(
            files.iter().cloned(),
            schema.lake_arrow_schema(),
        ));
        TableRef::from_provider(name, provider).ok()
    }

    fn table_names(&self) -> Vec<String> {
        self.tables.keys().map(|name| name.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lake_locations_are_directories_or_known_urls() {
        assert_eq!(
            LakeLocation::parse("lake").unwrap(),
            LakeLocation::Directory(PathBuf::from("lake"))
        );
        assert!(matches!(
            LakeLocation::parse("abfss://logs@acct.dfs.core.windows.net/lake").unwrap(),
            LakeLocation::Url(_)
        ));
        assert!(matches!(
            LakeLocation::parse("s3://bucket/lake").unwrap(),
            LakeLocation::Url(_)
        ));
        let err = LakeLocation::parse("ftp://host/lake")
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown scheme 'ftp'"), "{err}");
    }

    #[test]
    fn azure_stores_take_their_container_from_the_url() {
        // Building a store reads the URL and the environment; it does not connect.
        let url = Url::parse("abfss://logs@acct.dfs.core.windows.net/lake").unwrap();
        let store = store_for(&url);
        assert!(store.is_ok(), "{:?}", store.err());
    }
}
