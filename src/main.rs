fastnet::jemalloc!();

fn main() -> std::process::ExitCode {
    fastnet::cli::main()
}
