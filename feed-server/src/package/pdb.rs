//! Portable PDB ids: the key a symbol server files a PDB under (SYM-4).
//!
//! A portable PDB is ECMA-335 metadata: a metadata root (`BSJB` signature, version string,
//! stream headers) whose `#Pdb` stream starts with the 20-byte PDB id, a GUID followed by a
//! 4-byte stamp (the "Portable PDB v1.0" format spec). Debuggers look a PDB up by
//! `{file}/{guid}FFFFFFFF/{file}` (SSQP; portable PDBs have no age, so the age part is all F).

use super::{Error, Result};

/// The metadata root signature, `BSJB` in the file.
const METADATA_SIGNATURE: [u8; 4] = *b"BSJB";

/// How Windows (MSF) PDBs start.
const MSF_SIGNATURE: &[u8] = b"Microsoft C/C++ MSF 7.00";

/// Most streams a metadata root may list; real ones have 5 or 6.
const MAX_STREAMS: u16 = 64;

/// Longest stream name, terminating NUL included (ECMA-335 II.24.2.2).
const MAX_STREAM_NAME: usize = 32;

/// The id of a portable PDB, as stored at the start of its `#Pdb` stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PdbId {
    /// The GUID as its 16 bytes are stored (Data1, Data2, Data3 little-endian, then Data4).
    pub guid: [u8; 16],
    /// The stamp (matches the PE file's CodeView debug directory timestamp).
    pub stamp: u32,
}

impl PdbId {
    /// The SSQP key part: the GUID as 32 lower-case hex digits in its canonical string order
    /// (.NET's `Guid.ToString("N")`: Data1, Data2 and Data3 byte-swapped from the stored
    /// little-endian form), then `ffffffff` for the age portable PDBs do not have (SYM-4).
    pub fn symbol_key(&self) -> String {
        let g = &self.guid;
        let canonical = [
            g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11], g[12], g[13],
            g[14], g[15],
        ];
        let mut key = hex::encode(canonical);
        key.push_str("ffffffff");
        key
    }
}

/// Reads the PDB id of a portable PDB. Windows PDBs and anything else that is not ECMA-335
/// metadata with a `#Pdb` stream is an error.
pub fn read_portable_pdb_id(bytes: &[u8]) -> Result<PdbId> {
    if bytes.starts_with(MSF_SIGNATURE) {
        return Err(Error::NotPortablePdb {
            reason: "this is a Windows PDB: build with <DebugType>portable</DebugType>",
        });
    }
    if !bytes.starts_with(&METADATA_SIGNATURE) {
        return Err(Error::NotPortablePdb {
            reason: "it does not start with the metadata signature \"BSJB\"",
        });
    }
    let malformed = |reason| Error::InvalidPdb { reason };
    let mut cursor = Cursor { bytes, at: 0 };

    // Signature, major and minor version, reserved.
    cursor
        .skip(4 + 2 + 2 + 4)
        .ok_or(malformed("truncated metadata header"))?;
    let version_length = cursor.u32().ok_or(malformed("truncated metadata header"))?;
    let version_length =
        usize::try_from(version_length).map_err(|_| malformed("version string too long"))?;
    cursor
        .skip(version_length)
        .ok_or(malformed("version string runs past the end"))?;
    cursor
        .skip(2)
        .ok_or(malformed("truncated metadata header"))?; // flags
    let streams = cursor.u16().ok_or(malformed("truncated metadata header"))?;
    if streams > MAX_STREAMS {
        return Err(malformed("too many metadata streams"));
    }

    for _ in 0..streams {
        let offset = cursor.u32().ok_or(malformed("truncated stream header"))?;
        let size = cursor.u32().ok_or(malformed("truncated stream header"))?;
        let name = cursor.stream_name().ok_or(malformed(
            "stream name is not NUL-terminated within 32 bytes",
        ))?;
        if name == b"#Pdb" {
            let start =
                usize::try_from(offset).map_err(|_| malformed("#Pdb stream out of bounds"))?;
            let size = usize::try_from(size).map_err(|_| malformed("#Pdb stream out of bounds"))?;
            if size < 20 {
                return Err(malformed("#Pdb stream is shorter than a PDB id"));
            }
            let id = start
                .checked_add(20)
                .and_then(|end| bytes.get(start..end))
                .ok_or(malformed("#Pdb stream out of bounds"))?;
            let mut guid = [0u8; 16];
            guid.copy_from_slice(&id[..16]);
            let stamp = u32::from_le_bytes([id[16], id[17], id[18], id[19]]);
            return Ok(PdbId { guid, stamp });
        }
    }
    Err(malformed("no #Pdb stream"))
}

/// A bounds-checked little-endian reader over the PDB bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NUL-terminated stream name padded to a multiple of 4 bytes; returns it without NULs.
    fn stream_name(&mut self) -> Option<&'a [u8]> {
        let rest = self.bytes.get(self.at..)?;
        let nul = rest.iter().take(MAX_STREAM_NAME).position(|&b| b == 0)?;
        let padded = (nul + 1).div_ceil(4) * 4;
        self.skip(padded)?;
        Some(&rest[..nul])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing;

    /// GUID `01020304-0506-0708-090a-0b0c0d0e0f10` as .NET stores it.
    const GUID_BYTES: [u8; 16] = [4, 3, 2, 1, 6, 5, 8, 7, 9, 10, 11, 12, 13, 14, 15, 16];

    #[test]
    fn reads_the_id_of_a_portable_pdb() {
        let pdb = testing::portable_pdb(GUID_BYTES, 0xDEAD_BEEF);
        let id = read_portable_pdb_id(&pdb).unwrap();
        assert_eq!(
            id,
            PdbId {
                guid: GUID_BYTES,
                stamp: 0xDEAD_BEEF
            }
        );
    }

    /// SYM-4: the SSQP key is Guid.ToString("N") plus the all-F age, lower-cased.
    #[test]
    fn symbol_key_is_the_canonical_guid_and_ffffffff() {
        let id = PdbId {
            guid: GUID_BYTES,
            stamp: 1,
        };
        assert_eq!(id.symbol_key(), "0102030405060708090a0b0c0d0e0f10ffffffff");
        assert_eq!(id.symbol_key().len(), 40);
    }

    #[test]
    fn rejects_windows_pdbs() {
        let err = read_portable_pdb_id(testing::WINDOWS_PDB_HEADER).unwrap_err();
        assert!(matches!(err, Error::NotPortablePdb { .. }), "{err:?}");
        assert!(
            err.to_string().contains("<DebugType>portable</DebugType>"),
            "{err}"
        );
    }

    #[test]
    fn rejects_malformed_metadata() {
        let pdb = testing::portable_pdb(GUID_BYTES, 1);
        for len in 0..pdb.len().min(200) {
            let truncated = &pdb[..len];
            if let Ok(id) = read_portable_pdb_id(truncated) {
                // Only possible once the id itself is inside the slice.
                assert_eq!(id.guid, GUID_BYTES, "prefix of {len} bytes");
            }
        }
        assert!(matches!(
            read_portable_pdb_id(b"MZ\x90\x00"),
            Err(Error::NotPortablePdb { .. })
        ));
        assert!(matches!(
            read_portable_pdb_id(b""),
            Err(Error::NotPortablePdb { .. })
        ));
        // A valid header with no streams at all.
        let mut no_streams =
            b"BSJB\x01\x00\x01\x00\x00\x00\x00\x00\x04\x00\x00\x00v1\x00\x00".to_vec();
        no_streams.extend_from_slice(&[0, 0, 0, 0]);
        let err = read_portable_pdb_id(&no_streams).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidPdb {
                    reason: "no #Pdb stream"
                }
            ),
            "{err:?}"
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(mut bytes in prop::collection::vec(any::<u8>(), 0..256), signed in any::<bool>()) {
            if signed && bytes.len() >= 4 {
                bytes[..4].copy_from_slice(b"BSJB");
            }
            let _ = read_portable_pdb_id(&bytes);
        }

        #[test]
        fn round_trips_any_id(guid in any::<[u8; 16]>(), stamp in any::<u32>()) {
            let id = read_portable_pdb_id(&testing::portable_pdb(guid, stamp)).unwrap();
            prop_assert_eq!(id, PdbId { guid, stamp });
            prop_assert_eq!(id.symbol_key().len(), 40);
        }
    }
}
