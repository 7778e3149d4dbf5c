//! A small writer for EC2's response XML, escaping every text value.

use std::fmt::Display;

use quick_xml::escape::escape;

/// The namespace of EC2's 2016-11-15 API, on every response root.
const EC2_NS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// An XML document being written.
pub(crate) struct Xml(String);

impl Xml {
    /// A response document whose root is `root`, in EC2's namespace.
    pub(crate) fn response(root: &str, request_id: &str, body: impl FnOnce(&mut Xml)) -> String {
        let mut x = Xml(String::with_capacity(1024));
        x.0.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        x.0.push_str(&format!("<{root} xmlns=\"{EC2_NS}\">"));
        x.leaf("requestId", request_id);
        body(&mut x);
        x.0.push_str(&format!("</{root}>"));
        x.0
    }

    /// EC2's error envelope.
    pub(crate) fn error(code: &str, message: &str, request_id: &str) -> String {
        let mut x = Xml(String::with_capacity(256));
        x.0.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response>");
        x.elem("Errors", |x| {
            x.elem("Error", |x| {
                x.leaf("Code", code);
                x.leaf("Message", message);
            })
        });
        x.leaf("RequestID", request_id);
        x.0.push_str("</Response>");
        x.0
    }

    /// `<tag>` … `</tag>` around what `inner` writes.
    pub(crate) fn elem(&mut self, tag: &str, inner: impl FnOnce(&mut Xml)) {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        inner(self);
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
    }

    /// `<tag>text</tag>`, escaped.
    pub(crate) fn leaf(&mut self, tag: &str, text: impl Display) {
        let text = text.to_string();
        self.elem(tag, |x| x.0.push_str(&escape(text.as_str())));
    }

    /// A list: `<tag><item>…</item>…</tag>`, one item per element of `items`.
    pub(crate) fn items<T>(
        &mut self,
        tag: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Xml, T),
    ) {
        self.elem(tag, |x| {
            for item in items {
                x.elem("item", |x| each(x, item));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_lists_use_items() {
        let doc = Xml::response("TestResponse", "req-1", |x| {
            x.items("tagSet", [("a<b", "c&d")], |x, (k, v)| {
                x.leaf("key", k);
                x.leaf("value", v);
            })
        });
        assert!(doc.contains("<requestId>req-1</requestId>"));
        assert!(
            doc.contains("<tagSet><item><key>a&lt;b</key><value>c&amp;d</value></item></tagSet>")
        );
        let err = Xml::error("Bad", "x > y", "r");
        assert!(err.contains("<Errors><Error><Code>Bad</Code><Message>x &gt; y</Message></Error></Errors><RequestID>r</RequestID>"));
    }
}
