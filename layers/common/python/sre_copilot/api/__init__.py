"""The read API: incidents, hypotheses, timelines, postmortems and history per tenant, behind API
Gateway's JWT authorizer, with roles and an audit record for every call."""
