//! A client stream's accepted messages kept on disk, not in memory, until the
//! call writes them: an unnamed temporary file (the system removes it when it
//! is dropped, and when the process dies), each message as a 4-byte length and
//! its protobuf encoding, read back once in the order written. It holds no
//! database connection and no transaction, so a slow client costs only disk,
//! which its caller bounds (see `outcome_upload`). Its bytes are at most the
//! bytes the client sent: each message on the wire carries 5 bytes of gRPC
//! framing and the oneof's tag, more than the 4 bytes of length here.

use std::io::ErrorKind;
use std::path::Path;

use prost::Message;
use tokio::fs::File;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufReader, BufWriter};

use crate::error::{Error, Result};

/// The buffer of reads and writes: a few system calls per megabyte, little memory.
const BUFFER_BYTES: usize = 64 * 1024;
/// How long a caller refused for a full disk should wait.
const RETRY_WHEN_FULL: std::time::Duration = std::time::Duration::from_secs(60);

/// A spool being written.
pub struct Spool {
    file: BufWriter<File>,
    messages: u64,
    bytes: u64,
}

/// A spool being read back.
pub struct SpoolReader {
    file: BufReader<File>,
    remaining: u64,
    buffer: Vec<u8>,
}

impl Spool {
    /// A new, empty spool in `directory`.
    pub async fn create(directory: &Path) -> Result<Spool> {
        let directory = directory.to_path_buf();
        let file = tokio::task::spawn_blocking(move || tempfile::tempfile_in(&directory))
            .await
            .map_err(|error| Error::Internal(format!("spool: {error}")))?
            .map_err(spool_failed)?;
        Ok(Spool {
            file: BufWriter::with_capacity(BUFFER_BYTES, File::from_std(file)),
            messages: 0,
            bytes: 0,
        })
    }

    /// Appends one message.
    pub async fn push(&mut self, message: &impl Message) -> Result<()> {
        let encoded = message.encode_to_vec();
        let length = u32::try_from(encoded.len())
            .map_err(|_| Error::Internal("spool: a message over 4 GiB".into()))?;
        self.file.write_u32_le(length).await.map_err(spool_failed)?;
        self.file.write_all(&encoded).await.map_err(spool_failed)?;
        self.messages += 1;
        self.bytes += 4 + u64::from(length);
        Ok(())
    }

    /// How many messages it holds.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// How many bytes it takes on disk.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Finishes writing; the messages can be read back from the first.
    pub async fn into_reader(mut self) -> Result<SpoolReader> {
        self.file.flush().await.map_err(spool_failed)?;
        let mut file = self.file.into_inner();
        file.rewind().await.map_err(spool_failed)?;
        Ok(SpoolReader {
            file: BufReader::with_capacity(BUFFER_BYTES, file),
            remaining: self.messages,
            buffer: Vec::new(),
        })
    }
}

impl SpoolReader {
    /// The next message, or `None` after the last.
    pub async fn next<M: Message + Default>(&mut self) -> Result<Option<M>> {
        if self.remaining == 0 {
            return Ok(None);
        }
        let length = self.file.read_u32_le().await.map_err(spool_failed)? as usize;
        self.buffer.resize(length, 0);
        self.file
            .read_exact(&mut self.buffer)
            .await
            .map_err(spool_failed)?;
        self.remaining -= 1;
        M::decode(self.buffer.as_slice())
            .map(Some)
            .map_err(|error| Error::Internal(format!("spool: a message does not decode: {error}")))
    }
}

/// A full disk (or quota) is the server's temporary lack of room: the caller may retry later.
/// Anything else is a fault, logged and answered as INTERNAL.
fn spool_failed(error: std::io::Error) -> Error {
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Error::ResourceExhausted {
            reason: "NO_ROOM_FOR_UPLOADS",
            message: "the server has no room to take this upload now; retry later".into(),
            retry_after: RETRY_WHEN_FULL,
        },
        _ => Error::Internal(format!("spool: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_come_back_in_the_order_written_and_the_file_leaves_no_name_behind() {
        let directory = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(directory.path()).await.unwrap();
        for text in ["first", "", "third"] {
            spool.push(&text.to_string()).await.unwrap();
        }

        assert_eq!(spool.messages(), 3);
        assert_eq!(
            spool.bytes(),
            3 * 4 + (2 + 5) + (2 + 5),
            "an empty string encodes as nothing"
        );
        assert_eq!(
            std::fs::read_dir(directory.path()).unwrap().count(),
            0,
            "an unnamed file"
        );
        let mut reader = spool.into_reader().await.unwrap();
        let mut read = Vec::new();
        while let Some(text) = reader.next::<String>().await.unwrap() {
            read.push(text);
        }
        assert_eq!(read, ["first", "", "third"]);
    }

    #[tokio::test]
    async fn a_spool_in_a_missing_directory_is_an_internal_error() {
        let error = match Spool::create(Path::new("/nonexistent/spool")).await {
            Ok(_) => panic!("created"),
            Err(error) => error,
        };

        assert!(matches!(error, Error::Internal(_)), "{error:?}");
    }
}
