//! The variants of [`Error`](super::Error) are listed once, in the
//! invocation of [`error_kinds!`] in `error/mod.rs`; this macro writes the
//! enum from that list, and with it everything else that needs the list:
//! [`ErrorKind`](super::ErrorKind) (the variant without its data, with
//! [`label`](super::ErrorKind::label) for spans and metrics), and
//! [`Error::kind`](super::Error::kind) and the borrow of each variant's
//! `context`. A new variant written there is known everywhere at once.

/// Writes `Error`, `ErrorKind` and their glue from one list of
/// `Variant = "label" { fields }`. The macro adds to each variant the
/// field named in `pub enum Error (context)`: its type is written here,
/// where `thiserror` can see it is an `Option`, and its name comes from the
/// invocation, so that the `#[error(...)]` strings there can use it.
macro_rules! error_kinds {
    (
        $(#[$enum_meta:meta])*
        pub enum Error ($context:ident) {
            $(
                $(#[$meta:meta])*
                $variant:ident = $label:literal {
                    $( $(#[$field_meta:meta])* $field:ident : $ty:ty ),* $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$enum_meta])*
        pub enum Error {
            $(
                $(#[$meta])*
                $variant {
                    $( $(#[$field_meta])* $field: $ty, )*
                    /// Where the failure came from: the provider, the
                    /// cloud's code, the operation, the request id and the
                    /// underlying error; `None` when nothing was sent (an
                    /// input check, a deadline of the caller's own).
                    #[source]
                    $context: Option<Box<ErrorContext>>
                }
            ),*
        }

        /// The variant of an [`Error`] without its data: for a match that
        /// needs no field, a span field or a metric label
        /// ([`label`](Self::label)).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ErrorKind {
            $(
                #[doc = concat!("[`Error::", stringify!($variant), "`]: `", $label, "`.")]
                $variant
            ),*
        }

        impl ErrorKind {
            /// Every kind, in the order of [`Error`]'s variants.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The kind in snake case (`"throttled"`, `"price_too_low"`), as
            /// the tracing and metrics layers label an outcome.
            pub fn label(self) -> &'static str {
                match self {
                    $(Self::$variant => $label),*
                }
            }
        }

        impl std::fmt::Display for ErrorKind {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }

        impl Error {
            /// The variant, without its data.
            pub fn kind(&self) -> ErrorKind {
                match self {
                    $(Self::$variant { .. } => ErrorKind::$variant),*
                }
            }

            /// The `context` field, whichever the variant.
            fn context_slot(&self) -> &Option<Box<ErrorContext>> {
                match self {
                    $(Self::$variant { $context, .. } => $context),*
                }
            }

            /// The `context` field, to fill.
            fn context_slot_mut(&mut self) -> &mut Option<Box<ErrorContext>> {
                match self {
                    $(Self::$variant { $context, .. } => $context),*
                }
            }
        }
    };
}
