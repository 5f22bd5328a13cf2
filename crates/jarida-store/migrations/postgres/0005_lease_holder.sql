-- Which worker holds a row's lease, so a live worker can extend the leases of the rows it still holds.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
