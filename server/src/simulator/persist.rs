//! The simulator's optional state file: written (atomically, via a temporary file) a second after
//! any change and once more on stop, read at start. What is kept is `state::SavedState`: tickets,
//! authorizations, tokens and codes, accounts, and the accounts' menus (`menus::AccountMenus`,
//! absent from older files and then empty).

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::state::SavedState;
use super::SimControl;

pub(super) fn load(path: &Path) -> Result<Option<SavedState>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn save(shared: &SimControl, path: &Path) {
    let saved = shared.state().save();
    let text = match serde_json::to_string(&saved) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, "the simulator state could not be serialised");
            return;
        }
    };
    let tmp = path.with_extension("tmp");
    let result = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        tracing::warn!(error = %e, path = %path.display(), "the simulator state could not be saved");
    }
}

pub(super) async fn save_loop(shared: Arc<SimControl>, path: PathBuf, shutdown: CancellationToken) {
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(Duration::from_secs(1)) => false,
        };
        if shared.dirty.swap(false, Ordering::Relaxed) || stopping {
            save(&shared, &path);
        }
        if stopping {
            return;
        }
    }
}
