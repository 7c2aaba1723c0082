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

/// The descriptor sets of every service on the API port: ours, health and reflection
/// (v1 and v1alpha). Which methods stream, and the method labels of metrics, are read from them.
pub const SERVED_DESCRIPTOR_SETS: [&[u8]; 4] = [
    FILE_DESCRIPTOR_SET,
    tonic_health::pb::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
];
