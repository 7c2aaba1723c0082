//! The generated protobuf messages and gRPC services, and the descriptor set
//! (with proto comments) that server reflection serves.

#![allow(clippy::all, missing_docs)]

/// `tipgrants.v1`: the public API.
pub mod v1 {
    tonic::include_proto!("tipgrants.v1");
}

/// The encoded `FileDescriptorSet` of `proto/`, source comments included.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/tipgrants_descriptor.bin"));
