-- Store step 2: the document catalog (collections, duplicated fields, compiled queries)
-- Released with 0.1.0: never edit it; change a store in a new step (README.md).

CREATE TABLE @store@.collections (
    name        text PRIMARY KEY,
    table_name  name NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE @store@.duplicated_fields (
    collection  text NOT NULL REFERENCES @store@.collections (name) ON DELETE CASCADE,
    path        text NOT NULL,
    column_name name NOT NULL,
    type        text NOT NULL,
    indexed     boolean NOT NULL,
    transform   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, column_name),
    UNIQUE (collection, path)
);

CREATE TABLE @store@.compiled_queries (
    name        text PRIMARY KEY,
    collection  text NOT NULL,
    spec        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO @store@.collections (name, table_name) VALUES ('docs', rillflow._collection_table('docs'));
