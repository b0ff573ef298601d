"""Payment service: orders, payments, providers, refunds, vouchers, invoices and the ledger."""
