//! The macros that implement the api's request traits for the generated
//! messages, one line per message in the `*_api.rs` files (`write_requests!`,
//! `update_requests!`, `list_requests!`, `list_responses!`, `named_requests!`,
//! `state_change_requests!`) and `proto_enum!`, which pairs a domain enum with
//! its proto twin (used in `enums.rs`). Declared first in `api/mod.rs`
//! (`#[macro_use]`), so every file after it can use them.

/// Implements [`WriteRequest`]: `write_requests!(pb::CreateGrantRequest)`.
macro_rules! write_requests {
    ($($request:ty),+ $(,)?) => {
        $(
            impl $crate::api::WriteRequest for $request {
                fn request_id(&self) -> &str {
                    &self.request_id
                }
            }
        )+
    };
}

/// Implements [`UpdateRequest`]: the field that holds the resource, its
/// message, and in brackets its name and the enum of its mask's fields:
/// `update_requests!(pb::UpdateGrantRequest => grant: pb::Grant [GrantName, GrantField])`.
macro_rules! update_requests {
    ($($request:ty => $field:ident: $resource:ty [$name:ty, $fields:ty]),+ $(,)?) => {
        $(
            impl $crate::api::UpdateRequest for $request {
                const RESOURCE: &'static str = stringify!($field);
                type Resource = $resource;
                type Name = $name;
                type Field = $fields;

                fn into_parts(self) -> (Option<$resource>, Option<prost_types::FieldMask>) {
                    (self.$field, self.update_mask)
                }

                fn name_and_etag(resource: &$resource) -> (&str, &str) {
                    (&resource.name, &resource.etag)
                }
            }
        )+
    };
}

/// Implements [`paging::ListResponse`]: `list_responses!(pb::ListGrantsResponse => grants: pb::Grant)`.
macro_rules! list_responses {
    ($($response:ty => $field:ident: $item:ty),+ $(,)?) => {
        $(
            impl $crate::api::paging::ListResponse for $response {
                type Item = $item;

                fn of(items: Vec<$item>, next_page_token: String) -> Self {
                    Self { $field: items, next_page_token }
                }
            }
        )+
    };
}

/// Implements [`paging::ListRequest`]:
/// `list_requests!(pb::ListGrantsRequest; without filter: pb::ListIndicatorsRequest)`.
macro_rules! list_requests {
    ($($request:ty),* $(; without filter: $($no_filter:ty),+)? $(,)?) => {
        $(list_requests!(@impl $request, |request| Some(&mut request.filter));)*
        $($(list_requests!(@impl $no_filter, |_request| None);)+)?
    };
    (@impl $request:ty, |$this:ident| $filter:expr) => {
        impl $crate::api::paging::ListRequest for $request {
            fn page_fields(&mut self) -> (&mut String, &mut i32, Option<&mut String>) {
                let $this = self;
                (&mut $this.page_token, &mut $this.page_size, $filter)
            }
        }
    };
}

/// Implements [`NamedRequest`] (and [`DeleteRequest`] for those after `with etag:`):
/// `named_requests!(pb::GetIndicatorRequest; with etag: pb::DeleteIndicatorRequest)`.
macro_rules! named_requests {
    ($($request:ty),* $(; with etag: $($with_etag:ty),+)? $(,)?) => {
        $(
            impl $crate::api::NamedRequest for $request {
                fn name(&self) -> &str {
                    &self.name
                }
            }
        )*
        $($(
            impl $crate::api::NamedRequest for $with_etag {
                fn name(&self) -> &str {
                    &self.name
                }
            }

            impl $crate::api::DeleteRequest for $with_etag {
                fn etag(&self) -> &str {
                    &self.etag
                }
            }
        )+)?
    };
}

/// Implements [`StateChangeRequest`] (and [`WriteRequest`]) for requests
/// with `name`, `etag`, `request_id`, and (after `with reason:`) a `reason`.
macro_rules! state_change_requests {
    ($($request:ty),* $(; with reason: $($with_reason:ty),*)?) => {
        write_requests!($($request,)* $($($with_reason,)*)?);
        $(
            impl $crate::api::StateChangeRequest for $request {
                fn name(&self) -> &str { &self.name }
                fn etag(&self) -> &str { &self.etag }
            }
        )*
        $($(
            impl $crate::api::StateChangeRequest for $with_reason {
                fn name(&self) -> &str { &self.name }
                fn etag(&self) -> &str { &self.etag }
                fn reason(&self) -> &str { &self.reason }
            }
        )*)?
    };
}

/// Implements [`ProtoEnum`] for a domain enum and its proto twin.
macro_rules! proto_enum {
    ($domain:ty, $proto:ty, [$($prefix:literal),+]) => {
        impl $crate::api::ProtoEnum for $domain {
            const PREFIXES: &'static [&'static str] = &[$($prefix),+];

            fn proto_name(value: i32) -> Option<&'static str> {
                <$proto>::try_from(value).ok().map(|proto| proto.as_str_name())
            }

            fn to_proto(self) -> i32 {
                // Proto numbers are small: the table of every named value is built once.
                static TABLE: std::sync::OnceLock<Vec<($domain, i32)>> = std::sync::OnceLock::new();
                TABLE
                    .get_or_init(|| {
                        (1..=i32::from(u8::MAX))
                            .filter_map(|number| Some((<$domain>::from_proto(number)?, number)))
                            .collect()
                    })
                    .iter()
                    .find(|(value, _)| *value == self)
                    .map(|(_, number)| *number)
                    .unwrap_or_default()
            }
        }

        impl $crate::domain::validate::ClientSpelling for $domain {
            fn client_name(self) -> &'static str {
                <Self as $crate::api::ProtoEnum>::proto_name(
                    <Self as $crate::api::ProtoEnum>::to_proto(self),
                )
                .unwrap_or_else(|| self.code())
            }
        }
    };
}
