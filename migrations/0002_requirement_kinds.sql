-- Wheels also publish Provides-Extra and Requires-External (FORMATS.md §B2: provides_extras,
-- requires_external); they are stored as requirement rows of their own kinds.
ALTER TABLE requirements DROP CONSTRAINT requirements_kind_check;
ALTER TABLE requirements ADD CONSTRAINT requirements_kind_check
  CHECK (kind IN ('install', 'setup', 'test', 'extra', 'python', 'provides-extra', 'external'));
CREATE INDEX extractions_file_idx ON extractions (file_id);
CREATE INDEX files_packagetype_idx ON files (project_id) WHERE packagetype = 'bdist_wheel' AND NOT removed;
