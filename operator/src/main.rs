//! `nuget-operator`: `run` the controller, print the `crd`, or `render` a feed's manifests.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use nuget_operator::settings::{Settings, default_image};
use nuget_operator::{crd, keys, render, run};

#[derive(Parser)]
#[command(
    name = "nuget-operator",
    version,
    about = "Reconciles NuGetFeed resources into per-tenant NuGet feeds"
)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        env = "NUGET_OPERATOR_LOG_FORMAT",
        value_enum,
        default_value = "json",
        global = true
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller on the cluster of KUBECONFIG (or of its pod: in-cluster config).
    ///
    /// The kubeconfig is the one KUBECONFIG names, else ~/.kube/config; without either, in a
    /// pod, the operator talks to its own cluster with the pod's service account.
    Run(RunArgs),
    /// Print the NuGetFeed CustomResourceDefinition (YAML).
    Crd,
    /// Print every child manifest of the NuGetFeed(s) in a file, without a cluster.
    Render {
        /// File with one or more NuGetFeed documents (`-` for stdin).
        #[arg(short = 'f', long = "filename")]
        file: PathBuf,
        #[command(flatten)]
        platform: PlatformArgs,
    },
}

/// Platform defaults (the chart sets them); a feed's spec overrides each.
#[derive(Args, Clone)]
struct PlatformArgs {
    /// Feed server image for feeds without spec.image.
    #[arg(long, env = "NUGET_OPERATOR_DEFAULT_IMAGE", default_value_t = default_image())]
    default_image: String,
    /// Ingress host for feeds without spec.ingress.host.
    #[arg(long, env = "NUGET_OPERATOR_DEFAULT_HOST")]
    default_host: Option<String>,
    /// IngressClass for feeds without spec.ingress.className.
    #[arg(long, env = "NUGET_OPERATOR_DEFAULT_INGRESS_CLASS")]
    default_ingress_class: Option<String>,
    /// cert-manager ClusterIssuer for feeds without spec.ingress.tls.
    #[arg(long, env = "NUGET_OPERATOR_DEFAULT_TLS_ISSUER")]
    default_tls_issuer: Option<String>,
}

impl PlatformArgs {
    fn settings(&self) -> Settings {
        Settings {
            default_image: self.default_image.clone(),
            default_host: self.default_host.clone().filter(|s| !s.is_empty()),
            default_ingress_class: self.default_ingress_class.clone().filter(|s| !s.is_empty()),
            default_tls_issuer: self.default_tls_issuer.clone().filter(|s| !s.is_empty()),
            pdb_supported: true,
        }
    }
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    platform: PlatformArgs,
    /// Namespaces to watch, comma separated; empty watches all.
    #[arg(long, env = "NUGET_OPERATOR_WATCH_NAMESPACES", value_delimiter = ',')]
    watch_namespaces: Vec<String>,
    /// Address of /livez, /readyz and /metrics.
    #[arg(long, env = "NUGET_OPERATOR_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Elect a leader through a Lease (disable only for a single replica).
    #[arg(long, env = "NUGET_OPERATOR_LEADER_ELECTION", default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the leader election Lease.
    #[arg(
        long,
        env = "NUGET_OPERATOR_LEASE_NAME",
        default_value = "nuget-operator"
    )]
    lease_name: String,
    /// Namespace of the Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Seconds a leader's Lease stays valid without renewal.
    #[arg(long, env = "NUGET_OPERATOR_LEASE_DURATION", default_value_t = 15)]
    lease_duration: u64,
    /// This replica's identity in the Lease and in events.
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Reconciles running at once.
    #[arg(long, env = "NUGET_OPERATOR_CONCURRENCY", default_value_t = 4)]
    concurrency: u16,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Crd => match crd::crd_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e),
        },
        Command::Render { file, platform } => {
            let mut text = String::new();
            let read = if file.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text).map(|_| ())
            } else {
                std::fs::read_to_string(&file).map(|t| text = t)
            };
            if let Err(e) = read {
                return fail(&format!("cannot read {}: {e}", file.display()));
            }
            let mut generate = keys::random_secret;
            match render::render(&text, &platform.settings(), &mut generate) {
                Ok(out) => {
                    print!("{out}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Command::Run(args) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => return fail(&e),
            };
            match runtime.block_on(run_operator(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

async fn run_operator(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default().await?;
    let identity = args
        .identity
        .unwrap_or_else(|| format!("nuget-operator-{}", &keys::random_secret()[..12]));
    let options = run::Options {
        settings: args.platform.settings(),
        watch_namespaces: args
            .watch_namespaces
            .into_iter()
            .filter(|n| !n.is_empty())
            .collect(),
        http_addr: args.http_addr,
        leader_election: args.leader_election,
        lease_name: args.lease_name,
        lease_namespace: args.lease_namespace,
        lease_duration_secs: args.lease_duration,
        identity,
        concurrency: args.concurrency,
    };
    run::run(client, options, shutdown_signal()).await?;
    Ok(())
}

/// SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::FAILURE
}
