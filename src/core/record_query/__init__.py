"""DreamFactory's list parameters on records held in memory: `filter`, `ids`, `fields`,
`order`, `limit`, `offset` and the count, as df-core's `DbRequestCriteria` and df-system's
`BaseSystemResource::handleGET` apply them to a system table (no HTTP here)."""
