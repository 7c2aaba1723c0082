//! The limits of `UploadOutcomes` and the slots uploads take (see
//! `outcome_upload` for why uploads are bounded this way): bytes per upload,
//! the directory of their temporary files, and how many run at once per
//! principal (a grantee organisation, all its tokens together, or one staff
//! token) and across the server, shared by the one rule of `shares`. A refusal
//! names the bound it hit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::shares::{Refusal, Share, ShareLimits, Shares};
use crate::domain::access::Actor;
use crate::error::{Error, Result};
use crate::settings::UploadsSettings;

/// The retry hint when the caller's or the server's upload slots are taken.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The limits of uploads, and the slots they take.
pub struct Uploads {
    slots: Shares,
    max_bytes: u64,
    spool_directory: PathBuf,
}

impl Uploads {
    /// The limits set in `settings`.
    pub fn new(settings: &UploadsSettings) -> Uploads {
        Uploads {
            slots: Shares::new(ShareLimits {
                total: Some(settings.max_concurrent as usize),
                grantees: settings.max_concurrent as usize,
                per_organization: settings.max_concurrent_per_principal as usize,
                per_token: Some(settings.max_concurrent_per_principal as usize),
            }),
            max_bytes: settings.max_bytes,
            spool_directory: settings.spool_directory(),
        }
    }

    /// An upload slot for `actor`, or RESOURCE_EXHAUSTED saying whose limit is reached.
    pub fn take_slot(&self, actor: &Actor) -> Result<Share> {
        self.slots.try_take(actor).map_err(|refusal| match refusal {
            Refusal::Token | Refusal::Organization => Error::ResourceExhausted {
                reason: "TOO_MANY_UPLOADS",
                message: "your uploads running now are as many as one organisation may run at \
                          once; retry when one has finished"
                    .into(),
                retry_after: RETRY_AFTER,
            },
            Refusal::Grantees | Refusal::Total => Error::ResourceExhausted {
                reason: "UPLOADS_BUSY",
                message: "every upload slot of the server is taken; retry later".into(),
                retry_after: RETRY_AFTER,
            },
        })
    }

    /// Bytes one upload may carry, as sent.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Where uploads keep their temporary files.
    pub fn spool_directory(&self) -> &Path {
        &self.spool_directory
    }
}
