-- One database per service (compose only; on Kubernetes the databases are the operator's).
CREATE DATABASE imprint_papers;
CREATE DATABASE imprint_authors;
CREATE DATABASE imprint_recommendations;
CREATE DATABASE imprint_gateway;
