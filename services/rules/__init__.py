"""Pure business rules several services apply the same way, so one answer never differs between them:
`assignment` (which lawyer takes a consultation or a document order; consultation and documents), `forms`
(a client's answers to a product's requirement form; payment when the order is placed, documents when it
takes the order on, and the document-order activities) and `reasons` (cancellation and refund reasons in words;
notification's notices and the portal). A shared domain package, not a service: no I/O, no
service imported (docs/architecture.md, "Boundaries and shared domain packages")."""
