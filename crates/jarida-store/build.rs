// `sqlx::migrate!` embeds the migration files at compile time; without this, adding a migration
// leaves a warm build with the old set.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
