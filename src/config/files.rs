//! Reading the configuration: the three places of a workspace, their
//! `include`s, and errors that name the file, the line and the key.

use super::{Config, ManifestConfig};
use serde::Deserialize;
use std::collections::HashSet;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The parts of a `Cargo.toml` sockcheck reads; everything else is ignored.
#[derive(Deserialize)]
struct Manifest {
    workspace: Option<MetadataHolder>,
    package: Option<MetadataHolder>,
}

#[derive(Deserialize)]
struct MetadataHolder {
    metadata: Option<Metadata>,
}

#[derive(Deserialize)]
struct Metadata {
    sockcheck: Option<Config>,
}

/// Why the configuration could not be read.
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// A file is not valid TOML, or holds an unknown key or a bad value.
    Invalid {
        /// The file, as given (e.g. `sockcheck.toml` or a full path).
        origin: String,
        /// 1-based line of the fault, when known.
        line: Option<usize>,
        /// Dotted key of the fault, e.g. `levels.close-wait`, when known.
        key: Option<String>,
        /// What is wrong, e.g. ``unknown field `lingr`, expected one of ...``.
        message: String,
    },
}

impl fmt::Display for ConfigError {
    /// `sockcheck.toml:3: levels.close-wait: unknown variant `denyy`, expected one of ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Invalid {
                origin,
                line,
                key,
                message,
            } => {
                write!(f, "{origin}")?;
                if let Some(line) = line {
                    write!(f, ":{line}")?;
                }
                if let Some(key) = key {
                    write!(f, ": {key}")?;
                }
                write!(f, ": {message}")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            ConfigError::Invalid { .. } => None,
        }
    }
}

impl Config {
    /// Reads and layers the configuration for one package: workspace
    /// metadata in `<workspace_root>/Cargo.toml`, then
    /// `<workspace_root>/sockcheck.toml` if it exists, then the package
    /// metadata in `package_manifest` (a `Cargo.toml` path), if given.
    pub fn load(
        workspace_root: &Path,
        package_manifest: Option<&Path>,
    ) -> Result<Config, ConfigError> {
        let root_manifest = workspace_root.join("Cargo.toml");
        let root = read(&root_manifest)?
            .map(|text| Config::parse_manifest(&text, &root_manifest.display().to_string()))
            .transpose()?
            .unwrap_or_default();
        let sockcheck_toml = workspace_root.join("sockcheck.toml");
        let file = read(&sockcheck_toml)?
            .map(|text| Config::parse_sockcheck_toml(&text, &sockcheck_toml.display().to_string()))
            .transpose()?
            .map(|config| config.with_includes(&sockcheck_toml, ""))
            .transpose()?
            .unwrap_or_default();
        let package = match package_manifest {
            None => Config::default(),
            Some(path) if path == root_manifest => root.package,
            Some(path) => {
                read(path)?
                    .map(|text| Config::parse_manifest(&text, &path.display().to_string()))
                    .transpose()?
                    .unwrap_or_default()
                    .package
            }
        };
        let package_file = package_manifest.unwrap_or(&root_manifest);
        let workspace = root
            .workspace
            .with_includes(&root_manifest, "workspace.metadata.sockcheck.")?;
        let package = package.with_includes(package_file, "package.metadata.sockcheck.")?;
        Ok(workspace.layer(file).layer(package))
    }

    /// Reads the configuration that applies to the package in
    /// `package_dir` (a test process's `CARGO_MANIFEST_DIR`): its workspace
    /// root is the nearest directory at or above it whose `Cargo.toml` has a
    /// `[workspace]` table, else the package's own directory.
    pub fn load_for_package(package_dir: &Path) -> Result<Config, ConfigError> {
        let manifest = package_dir.join("Cargo.toml");
        let mut root = package_dir;
        for dir in package_dir.ancestors() {
            let is_workspace = read(&dir.join("Cargo.toml"))?
                .and_then(|text| text.parse::<toml::Table>().ok())
                .is_some_and(|table| table.contains_key("workspace"));
            if is_workspace {
                root = dir;
                break;
            }
        }
        Config::load(root, Some(&manifest))
    }

    /// The configuration of the test process running now: that of the
    /// package in `CARGO_MANIFEST_DIR` (set by cargo when it runs tests;
    /// see [`Config::load_for_package`]), or the default when it is unset.
    pub fn for_test_process() -> Result<Config, ConfigError> {
        match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) if !dir.is_empty() => Config::load_for_package(Path::new(&dir)),
            _ => Ok(Config::default()),
        }
    }

    /// This configuration layered on top of the files its `include` names
    /// (relative to `file`, the file it was read from), read recursively;
    /// `key_prefix` is where its keys live in `file`, for errors. A file
    /// included more than once (a DAG of includes, not a tree) is read and
    /// layered once, where it is first included, so however the files
    /// include each other the work grows with the number of files.
    fn with_includes(self, file: &Path, key_prefix: &str) -> Result<Config, ConfigError> {
        let mut chain = vec![file.canonicalize().unwrap_or_else(|_| file.to_owned())];
        let mut seen = HashSet::new();
        self.with_includes_in(file, key_prefix, &mut chain, &mut seen)
    }

    /// [`Config::with_includes`] with the `chain` of files that led here
    /// (a cycle is an error) and the files `seen` already (skipped).
    fn with_includes_in(
        mut self,
        file: &Path,
        key_prefix: &str,
        chain: &mut Vec<PathBuf>,
        seen: &mut HashSet<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let includes = std::mem::take(&mut self.includes);
        let dir = file.parent().unwrap_or(Path::new("."));
        let mut base = Config::default();
        for (index, include) in includes.iter().enumerate() {
            let path = dir.join(include);
            let bad_include = |message: String| ConfigError::Invalid {
                origin: file.display().to_string(),
                line: None,
                key: Some(format!("{key_prefix}include[{index}]")),
                message,
            };
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if chain.contains(&canonical) {
                return Err(bad_include(format!(
                    "{} includes itself (through {})",
                    path.display(),
                    chain
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(" -> ")
                )));
            }
            if !seen.insert(canonical.clone()) {
                continue;
            }
            let text = crate::input::read_to_string(&path)
                .map_err(|e| bad_include(format!("cannot read {}: {e}", path.display())))?;
            let included = Config::parse_sockcheck_toml(&text, &path.display().to_string())?;
            chain.push(canonical);
            let included = included.with_includes_in(&path, "", chain, seen)?;
            chain.pop();
            base = base.layer(included);
        }
        Ok(base.layer(self))
    }

    /// Parses a `sockcheck.toml`; `origin` names it in errors.
    pub fn parse_sockcheck_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        deserialize(text, origin)
    }

    /// Parses the sockcheck tables of a `Cargo.toml`; `origin` names it in
    /// errors. Other tables and keys are not looked at.
    pub fn parse_manifest(text: &str, origin: &str) -> Result<ManifestConfig, ConfigError> {
        let manifest: Manifest = deserialize(text, origin)?;
        let table = |holder: Option<MetadataHolder>| {
            holder
                .and_then(|h| h.metadata)
                .and_then(|m| m.sockcheck)
                .unwrap_or_default()
        };
        Ok(ManifestConfig {
            workspace: table(manifest.workspace),
            package: table(manifest.package),
        })
    }
}

/// The contents of `path`, or `None` when it does not exist.
fn read(path: &Path) -> Result<Option<String>, ConfigError> {
    match crate::input::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Deserializes TOML `text`, turning any error into one that names
/// `origin`, the line and the key.
fn deserialize<'de, T: Deserialize<'de>>(text: &'de str, origin: &str) -> Result<T, ConfigError> {
    let invalid = |error: &toml::de::Error, key: Option<String>| ConfigError::Invalid {
        origin: origin.to_owned(),
        line: error
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1),
        key,
        message: error.message().trim().to_owned(),
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| invalid(&e, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let key = (path != "." && !path.is_empty()).then_some(path);
        invalid(e.inner(), key)
    })
}
