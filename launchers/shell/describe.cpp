// psql 15's listAllDbs, listTables, describeTableDetails/describeOneTableDetails and
// describeRoles (non-verbose forms). Queries are written as psql sends them to a 15 server,
// with the variants psql 15 uses for older servers where a catalog column is missing.
#include "launchers/shell/describe.hpp"

#include <cstdlib>
#include <string_view>
#include <vector>

#include "launchers/shell/name_pattern.hpp"

namespace apono::launchers::shell {

namespace {

std::string value(const PGresult* r, int row, int col) {
  return PQgetvalue(r, row, col);
}

bool is_true(const PGresult* r, int row, int col) {
  return value(r, row, col) == "t";
}

bool is_null(const PGresult* r, int row, int col) {
  return PQgetisnull(r, row, col) != 0;
}

// Appends the pattern's conditions, or reports a pattern with too many dots (psql's
// validateSQLNamePattern).
bool add_pattern(catalog_client& c, std::string& sql, const std::optional<std::string>& pattern,
                 bool have_where, std::string_view schema_column, std::string_view name_column,
                 std::string_view visibility, int max_parts) {
  if (!pattern) {
    if (!visibility.empty()) {
      sql += have_where ? "  AND " : "WHERE ";
      sql += std::string(visibility) + "\n";
    }
    return true;
  }
  name_regex re = parse_name_pattern(*pattern, max_parts);
  if (re.too_many_dots) {
    c.error("improper qualified name (too many dotted names): " + *pattern);
    return false;
  }
  if (re.database && *re.database != c.database()) {
    c.error("cross-database references are not implemented: " + *pattern);
    return false;
  }
  append_name_conditions(sql, have_where, re, schema_column, name_column, visibility,
                         c.standard_strings());
  return true;
}

std::string quote_oid(const std::string& oid) {
  return "'" + oid + "'";
}

// add_tablespace_footer: the tablespace of a relation or index when it is not the default.
void add_tablespace_footer(catalog_client& c, table& t, char relkind, const std::string& spc,
                           bool newline) {
  if (relkind != 'r' && relkind != 'm' && relkind != 'i' && relkind != 'p' && relkind != 'I')
    return;
  if (spc.empty() || spc == "0") return;
  pg_result r = c.query("SELECT spcname FROM pg_catalog.pg_tablespace\nWHERE oid = '" + spc + "';");
  if (!r || PQntuples(r.get()) == 0) return;
  if (newline)
    t.footers.push_back("Tablespace: \"" + value(r.get(), 0, 0) + "\"");
  else if (!t.footers.empty())
    t.footers.back() += ", tablespace \"" + value(r.get(), 0, 0) + "\"";
}

struct table_info {
  int checks = 0;
  char relkind = 0;
  bool hasindex = false;
  bool hasrules = false;
  bool hastriggers = false;
  bool rowsecurity = false;
  bool forcerowsecurity = false;
  bool ispartition = false;
  std::string tablespace;
  std::string reloftype;
  char relpersistence = 0;
};

std::string title_for(const table_info& info, const std::string& schema, const std::string& name) {
  const std::string qualified = "\"" + schema + "." + name + "\"";
  const bool unlogged = info.relpersistence == 'u';
  switch (info.relkind) {
    case 'r':
      return (unlogged ? "Unlogged table " : "Table ") + qualified;
    case 'v':
      return "View " + qualified;
    case 'm':
      return (unlogged ? "Unlogged materialized view " : "Materialized view ") + qualified;
    case 'i':
      return (unlogged ? "Unlogged index " : "Index ") + qualified;
    case 'I':
      return (unlogged ? "Unlogged partitioned index " : "Partitioned index ") + qualified;
    case 't':
      return "TOAST table " + qualified;
    case 'c':
      return "Composite type " + qualified;
    case 'f':
      return "Foreign table " + qualified;
    case 'p':
      return (unlogged ? "Unlogged partitioned table " : "Partitioned table ") + qualified;
    default:
      return std::string("?") + info.relkind + "? " + qualified;
  }
}

bool describe_sequence(catalog_client& c, const std::string& oid, const std::string& schema,
                       const std::string& name, const table_info& info) {
  pg_result res = c.query(
      "SELECT pg_catalog.format_type(seqtypid, NULL) AS \"Type\",\n"
      "       seqstart AS \"Start\",\n"
      "       seqmin AS \"Minimum\",\n"
      "       seqmax AS \"Maximum\",\n"
      "       seqincrement AS \"Increment\",\n"
      "       CASE WHEN seqcycle THEN 'yes' ELSE 'no' END AS \"Cycles?\",\n"
      "       seqcache AS \"Cache\"\n"
      "FROM pg_catalog.pg_sequence\n"
      "WHERE seqrelid = " +
      quote_oid(oid) + ";");
  if (!res) return false;
  pg_result owner = c.query(
      "SELECT pg_catalog.quote_ident(nspname) || '.' ||\n"
      "   pg_catalog.quote_ident(relname) || '.' ||\n"
      "   pg_catalog.quote_ident(attname),\n"
      "   d.deptype\n"
      "FROM pg_catalog.pg_class c\n"
      "INNER JOIN pg_catalog.pg_depend d ON c.oid=d.refobjid\n"
      "INNER JOIN pg_catalog.pg_namespace n ON n.oid=c.relnamespace\n"
      "INNER JOIN pg_catalog.pg_attribute a ON (\n"
      " a.attrelid=c.oid AND\n"
      " a.attnum=d.refobjsubid)\n"
      "WHERE d.classid='pg_catalog.pg_class'::pg_catalog.regclass\n"
      " AND d.refclassid='pg_catalog.pg_class'::pg_catalog.regclass\n"
      " AND d.objid=" +
      quote_oid(oid) + "\n AND d.deptype IN ('a', 'i')");
  if (!owner) return false;
  table t =
      to_table(res.get(), (info.relpersistence == 'u' ? "Unlogged sequence \"" : "Sequence \"") +
                              schema + "." + name + "\"");
  t.default_footer = false;
  if (PQntuples(owner.get()) == 1) {
    const std::string deptype = value(owner.get(), 0, 1);
    if (deptype == "a") t.footers.push_back("Owned by: " + value(owner.get(), 0, 0));
    if (deptype == "i")
      t.footers.push_back("Sequence for identity column: " + value(owner.get(), 0, 0));
  }
  c.print(t, true);
  return true;
}

// The footers of an index: "primary key, btree, for table ...".
bool add_index_footer(catalog_client& c, table& t, const std::string& oid,
                      const std::string& schema, const table_info& info) {
  const int v = c.server_version();
  pg_result r = c.query(
      std::string("SELECT i.indisunique, i.indisprimary, i.indisclustered, i.indisvalid,\n"
                  "  (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint "
                  "WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN "
                  "('p','u','x') AND condeferrable) AS condeferrable,\n"
                  "  (NOT i.indimmediate) AND EXISTS (SELECT 1 FROM pg_catalog.pg_constraint "
                  "WHERE conrelid = i.indrelid AND conindid = i.indexrelid AND contype IN "
                  "('p','u','x') AND condeferred) AS condeferred,\n"
                  "i.indisreplident,\n") +
      (v >= 150000 ? "i.indnullsnotdistinct,\n" : "false AS indnullsnotdistinct,\n") +
      "  a.amname, c2.relname, pg_catalog.pg_get_expr(i.indpred, i.indrelid, true)\n"
      "FROM pg_catalog.pg_index i, pg_catalog.pg_class c, pg_catalog.pg_class c2, "
      "pg_catalog.pg_am a\n"
      "WHERE i.indexrelid = c.oid AND c.oid = " +
      quote_oid(oid) +
      " AND c.relam = a.oid\n"
      "AND i.indrelid = c2.oid;");
  if (!r || PQntuples(r.get()) != 1) return false;
  const PGresult* x = r.get();
  std::string f;
  if (is_true(x, 0, 1)) {
    f = "primary key, ";
  } else if (is_true(x, 0, 0)) {
    f = "unique";
    if (is_true(x, 0, 7)) f += " nulls not distinct";
    f += ", ";
  }
  f += value(x, 0, 8) + ", ";
  f += "for table \"" + schema + "." + value(x, 0, 9) + "\"";
  if (!value(x, 0, 10).empty()) f += ", predicate (" + value(x, 0, 10) + ")";
  if (is_true(x, 0, 2)) f += ", clustered";
  if (!is_true(x, 0, 3)) f += ", invalid";
  if (is_true(x, 0, 4)) f += ", deferrable";
  if (is_true(x, 0, 5)) f += ", initially deferred";
  if (is_true(x, 0, 6)) f += ", replica identity";
  t.footers.push_back(f);
  add_tablespace_footer(c, t, info.relkind, info.tablespace, true);
  return true;
}

// Indexes, constraints, references, policies, statistics, rules and publications of a table.
bool add_table_footers(catalog_client& c, table& t, const std::string& oid,
                       const table_info& info) {
  const int v = c.server_version();
  const std::string q = quote_oid(oid);
  if (info.hasindex) {
    pg_result r = c.query(
        "SELECT c2.relname, i.indisprimary, i.indisunique, i.indisclustered, i.indisvalid, "
        "pg_catalog.pg_get_indexdef(i.indexrelid, 0, true),\n"
        "  pg_catalog.pg_get_constraintdef(con.oid, true), contype, condeferrable, "
        "condeferred, i.indisreplident, c2.reltablespace\n"
        "FROM pg_catalog.pg_class c, pg_catalog.pg_class c2, pg_catalog.pg_index i\n"
        "  LEFT JOIN pg_catalog.pg_constraint con ON (conrelid = i.indrelid AND conindid = "
        "i.indexrelid AND contype IN ('p','u','x'))\n"
        "WHERE c.oid = " +
        q +
        " AND c.oid = i.indrelid AND i.indexrelid = c2.oid\n"
        "ORDER BY i.indisprimary DESC, c2.relname;");
    if (!r) return false;
    const PGresult* x = r.get();
    if (PQntuples(x) > 0) t.footers.emplace_back("Indexes:");
    for (int i = 0; i < PQntuples(x); ++i) {
      std::string f = "    \"" + value(x, i, 0) + "\"";
      if (value(x, i, 7) == "x") {
        // An exclusion constraint reads best as its definition.
        f += " " + value(x, i, 6);
      } else {
        if (is_true(x, i, 1))
          f += " PRIMARY KEY,";
        else if (is_true(x, i, 2))
          f += value(x, i, 7) == "u" ? " UNIQUE CONSTRAINT," : " UNIQUE,";
        // Everything after "USING" is echoed verbatim.
        std::string def = value(x, i, 5);
        if (auto pos = def.find(" USING "); pos != std::string::npos) def = def.substr(pos + 7);
        f += " " + def;
        if (is_true(x, i, 8)) f += " DEFERRABLE";
        if (is_true(x, i, 9)) f += " INITIALLY DEFERRED";
      }
      if (is_true(x, i, 3)) f += " CLUSTER";
      if (!is_true(x, i, 4)) f += " INVALID";
      if (is_true(x, i, 10)) f += " REPLICA IDENTITY";
      t.footers.push_back(f);
      add_tablespace_footer(c, t, 'i', value(x, i, 11), false);
    }
  }

  if (info.checks > 0) {
    pg_result r = c.query(
        "SELECT r.conname, pg_catalog.pg_get_constraintdef(r.oid, true)\n"
        "FROM pg_catalog.pg_constraint r\n"
        "WHERE r.conrelid = " +
        q +
        " AND r.contype = 'c'\n"
        "ORDER BY 1;");
    if (!r) return false;
    const PGresult* x = r.get();
    if (PQntuples(x) > 0) t.footers.emplace_back("Check constraints:");
    for (int i = 0; i < PQntuples(x); ++i)
      t.footers.push_back("    \"" + value(x, i, 0) + "\" " + value(x, i, 1));
  }

  if (info.hastriggers || info.relkind == 'p') {
    std::string sql;
    if (info.ispartition || info.relkind == 'p') {
      sql = "SELECT conrelid = " + q +
            "::pg_catalog.regclass AS sametable,\n"
            "       conname,\n"
            "       pg_catalog.pg_get_constraintdef(oid, true) AS condef,\n"
            "       conrelid::pg_catalog.regclass AS ontable\n"
            "  FROM pg_catalog.pg_constraint,\n"
            "       pg_catalog.pg_partition_ancestors(" +
            q +
            ")\n"
            " WHERE conrelid = relid AND contype = 'f' AND conparentid = 0\n"
            "ORDER BY sametable DESC, conname;";
    } else {
      sql =
          "SELECT true as sametable, conname,\n"
          "  pg_catalog.pg_get_constraintdef(r.oid, true) as condef,\n"
          "  conrelid::pg_catalog.regclass AS ontable\n"
          "FROM pg_catalog.pg_constraint r\n"
          "WHERE r.conrelid = " +
          q +
          " AND r.contype = 'f'\n"
          "     AND conparentid = 0\n"
          "ORDER BY conname";
    }
    pg_result r = c.query(sql);
    if (!r) return false;
    const PGresult* x = r.get();
    if (PQntuples(x) > 0) t.footers.emplace_back("Foreign-key constraints:");
    const int same = PQfnumber(x, "sametable");
    const int name = PQfnumber(x, "conname");
    const int def = PQfnumber(x, "condef");
    const int on = PQfnumber(x, "ontable");
    for (int i = 0; i < PQntuples(x); ++i) {
      if (value(x, i, same) == "f")
        t.footers.push_back("    TABLE \"" + value(x, i, on) + "\" CONSTRAINT \"" +
                            value(x, i, name) + "\" " + value(x, i, def));
      else
        t.footers.push_back("    \"" + value(x, i, name) + "\" " + value(x, i, def));
    }

    r = c.query(
        "SELECT conname, conrelid::pg_catalog.regclass AS ontable,\n"
        "       pg_catalog.pg_get_constraintdef(oid, true) AS condef\n"
        "  FROM pg_catalog.pg_constraint c\n"
        " WHERE confrelid IN (SELECT pg_catalog.pg_partition_ancestors(" +
        q +
        ")\n"
        "                     UNION ALL VALUES (" +
        q +
        "::pg_catalog.regclass))\n"
        "       AND contype = 'f' AND conparentid = 0\n"
        "ORDER BY conname;");
    if (!r) return false;
    x = r.get();
    if (PQntuples(x) > 0) t.footers.emplace_back("Referenced by:");
    for (int i = 0; i < PQntuples(x); ++i)
      t.footers.push_back("    TABLE \"" + value(x, i, PQfnumber(x, "ontable")) +
                          "\" CONSTRAINT \"" + value(x, i, PQfnumber(x, "conname")) + "\" " +
                          value(x, i, PQfnumber(x, "condef")));
  }

  {
    pg_result r = c.query(
        "SELECT pol.polname, pol.polpermissive,\n"
        "  CASE WHEN pol.polroles = '{0}' THEN NULL ELSE "
        "pg_catalog.array_to_string(array(select rolname from pg_catalog.pg_roles where oid = "
        "any (pol.polroles) order by 1),',') END,\n"
        "  pg_catalog.pg_get_expr(pol.polqual, pol.polrelid),\n"
        "  pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid),\n"
        "  CASE pol.polcmd\n"
        "    WHEN 'r' THEN 'SELECT'\n"
        "    WHEN 'a' THEN 'INSERT'\n"
        "    WHEN 'w' THEN 'UPDATE'\n"
        "    WHEN 'd' THEN 'DELETE'\n"
        "    END AS cmd\n"
        "FROM pg_catalog.pg_policy pol\n"
        "WHERE pol.polrelid = " +
        q + " ORDER BY 1;");
    if (!r) return false;
    const PGresult* x = r.get();
    const int n = PQntuples(x);
    if (info.rowsecurity && !info.forcerowsecurity && n > 0) t.footers.emplace_back("Policies:");
    if (info.rowsecurity && info.forcerowsecurity && n > 0)
      t.footers.emplace_back("Policies (forced row security enabled):");
    if (info.rowsecurity && !info.forcerowsecurity && n == 0)
      t.footers.emplace_back("Policies (row security enabled): (none)");
    if (info.rowsecurity && info.forcerowsecurity && n == 0)
      t.footers.emplace_back("Policies (forced row security enabled): (none)");
    if (!info.rowsecurity && n > 0) t.footers.emplace_back("Policies (row security disabled):");
    for (int i = 0; i < n; ++i) {
      std::string f = "    POLICY \"" + value(x, i, 0) + "\"";
      if (value(x, i, 1) == "f") f += " AS RESTRICTIVE";
      if (!is_null(x, i, 5)) f += " FOR " + value(x, i, 5);
      if (!is_null(x, i, 2)) f += "\n      TO " + value(x, i, 2);
      if (!is_null(x, i, 3)) f += "\n      USING (" + value(x, i, 3) + ")";
      if (!is_null(x, i, 4)) f += "\n      WITH CHECK (" + value(x, i, 4) + ")";
      t.footers.push_back(f);
    }
  }

  if (v >= 140000) {
    pg_result r = c.query(
        "SELECT oid, stxrelid::pg_catalog.regclass, "
        "stxnamespace::pg_catalog.regnamespace::pg_catalog.text AS nsp, stxname,\n"
        "pg_catalog.pg_get_statisticsobjdef_columns(oid) AS columns,\n"
        "  'd' = any(stxkind) AS ndist_enabled,\n"
        "  'f' = any(stxkind) AS deps_enabled,\n"
        "  'm' = any(stxkind) AS mcv_enabled,\n"
        "stxstattarget\n"
        "FROM pg_catalog.pg_statistic_ext\n"
        "WHERE stxrelid = " +
        q +
        "\n"
        "ORDER BY nsp, stxname;");
    if (!r) return false;
    const PGresult* x = r.get();
    if (PQntuples(x) > 0) t.footers.emplace_back("Statistics objects:");
    for (int i = 0; i < PQntuples(x); ++i) {
      const bool nd = is_true(x, i, 5);
      const bool deps = is_true(x, i, 6);
      const bool mcv = is_true(x, i, 7);
      std::string f = "    \"" + value(x, i, 2) + "." + value(x, i, 3) + "\"";
      // No kinds for a single expression, none either when all are on (the default).
      if ((nd || deps || mcv) && !(nd && deps && mcv)) {
        std::string kinds;
        if (nd) kinds = "ndistinct";
        if (deps) kinds += (kinds.empty() ? "" : ", ") + std::string("dependencies");
        if (mcv) kinds += (kinds.empty() ? "" : ", ") + std::string("mcv");
        f += " (" + kinds + ")";
      }
      f += " ON " + value(x, i, 4) + " FROM " + value(x, i, 1);
      if (!is_null(x, i, 8) && value(x, i, 8) != "-1") f += "; STATISTICS " + value(x, i, 8);
      t.footers.push_back(f);
    }
  }

  if (info.hasrules && info.relkind != 'm') {
    pg_result r = c.query(
        "SELECT r.rulename, trim(trailing ';' from pg_catalog.pg_get_ruledef(r.oid, true)), "
        "ev_enabled\n"
        "FROM pg_catalog.pg_rewrite r\n"
        "WHERE r.ev_class = " +
        q + " ORDER BY 1;");
    if (!r) return false;
    const PGresult* x = r.get();
    static const char* const headings[] = {
        "Rules:", "Disabled rules:", "Rules firing always:", "Rules firing on replica only:"};
    static const char states[] = {'O', 'D', 'A', 'R'};
    for (int category = 0; category < 4; ++category) {
      bool heading = false;
      for (int i = 0; i < PQntuples(x); ++i) {
        if (value(x, i, 2).c_str()[0] != states[category]) continue;
        if (!heading) {
          t.footers.emplace_back(headings[category]);
          heading = true;
        }
        // Everything after "CREATE RULE" is echoed verbatim.
        const std::string def = value(x, i, 1);
        t.footers.push_back("    " + (def.size() > 12 ? def.substr(12) : def));
      }
    }
  }

  {
    std::string sql =
        v >= 150000 ? "SELECT pubname\n"
                      "     , NULL\n"
                      "     , NULL\n"
                      "FROM pg_catalog.pg_publication p\n"
                      "     JOIN pg_catalog.pg_publication_namespace pn ON p.oid = pn.pnpubid\n"
                      "     JOIN pg_catalog.pg_class pc ON pc.relnamespace = pn.pnnspid\n"
                      "WHERE pc.oid =" +
                          q + " and pg_catalog.pg_relation_is_publishable(" + q +
                          ")\n"
                          "UNION\n"
                          "SELECT pubname\n"
                          "     , pg_get_expr(pr.prqual, c.oid)\n"
                          "     , (CASE WHEN pr.prattrs IS NOT NULL THEN\n"
                          "         (SELECT string_agg(attname, ', ')\n"
                          "           FROM pg_catalog.generate_series(0, "
                          "pg_catalog.array_upper(pr.prattrs::pg_catalog.int2[], 1)) s,\n"
                          "                pg_catalog.pg_attribute\n"
                          "          WHERE attrelid = pr.prrelid AND attnum = prattrs[s])\n"
                          "        ELSE NULL END) FROM pg_catalog.pg_publication p\n"
                          "     JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid\n"
                          "     JOIN pg_catalog.pg_class c ON c.oid = pr.prrelid\n"
                          "WHERE pr.prrelid = " +
                          q +
                          "\n"
                          "UNION\n"
                          "SELECT pubname\n"
                          "     , NULL\n"
                          "     , NULL\n"
                          "FROM pg_catalog.pg_publication p\n"
                          "WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable(" +
                          q +
                          ")\n"
                          "ORDER BY 1;"
                    : "SELECT pubname\n"
                      "     , NULL\n"
                      "     , NULL\n"
                      "FROM pg_catalog.pg_publication p\n"
                      "JOIN pg_catalog.pg_publication_rel pr ON p.oid = pr.prpubid\n"
                      "WHERE pr.prrelid = " +
                          q +
                          "\n"
                          "UNION ALL\n"
                          "SELECT pubname\n"
                          "     , NULL\n"
                          "     , NULL\n"
                          "FROM pg_catalog.pg_publication p\n"
                          "WHERE p.puballtables AND pg_catalog.pg_relation_is_publishable(" +
                          q +
                          ")\n"
                          "ORDER BY 1;";
    pg_result r = c.query(sql);
    if (!r) return false;
    const PGresult* x = r.get();
    if (PQntuples(x) > 0) t.footers.emplace_back("Publications:");
    for (int i = 0; i < PQntuples(x); ++i) {
      std::string f = "    \"" + value(x, i, 0) + "\"";
      if (!is_null(x, i, 2)) f += " (" + value(x, i, 2) + ")";
      if (!is_null(x, i, 1)) f += " WHERE " + value(x, i, 1);
      t.footers.push_back(f);
    }
  }
  return true;
}

bool add_trigger_footers(catalog_client& c, table& t, const std::string& oid) {
  const int v = c.server_version();
  std::string sql =
      "SELECT t.tgname, pg_catalog.pg_get_triggerdef(t.oid, true), t.tgenabled, "
      "t.tgisinternal,\n";
  if (v >= 130000) {
    sql +=
        "  CASE WHEN t.tgparentid != 0 THEN\n"
        "    (SELECT u.tgrelid::pg_catalog.regclass\n"
        "     FROM pg_catalog.pg_trigger AS u,\n"
        "          pg_catalog.pg_partition_ancestors(t.tgrelid) WITH ORDINALITY AS a(relid, "
        "depth)\n"
        "     WHERE u.tgname = t.tgname AND u.tgrelid = a.relid\n"
        "           AND u.tgparentid = 0\n"
        "     ORDER BY a.depth LIMIT 1)\n"
        "  END AS parent\n"
        "FROM pg_catalog.pg_trigger t\n"
        "WHERE t.tgrelid = " +
        quote_oid(oid) +
        " AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D'))\n"
        "ORDER BY 1;";
  } else {
    sql +=
        "  NULL AS parent\n"
        "FROM pg_catalog.pg_trigger t\n"
        "WHERE t.tgrelid = " +
        quote_oid(oid) +
        " AND (NOT t.tgisinternal OR (t.tgisinternal AND t.tgenabled = 'D') \n"
        "    OR EXISTS (SELECT 1 FROM pg_catalog.pg_depend WHERE objid = t.oid \n"
        "        AND refclassid = 'pg_catalog.pg_trigger'::pg_catalog.regclass))\n"
        "ORDER BY 1;";
  }
  pg_result r = c.query(sql);
  if (!r) return false;
  const PGresult* x = r.get();
  static const char* const headings[] = {
      "Triggers:", "Disabled user triggers:", "Disabled internal triggers:",
      "Triggers firing always:", "Triggers firing on replica only:"};
  for (int category = 0; category <= 4; ++category) {
    bool heading = false;
    for (int i = 0; i < PQntuples(x); ++i) {
      const char enabled = value(x, i, 2).c_str()[0];
      const bool internal = is_true(x, i, 3);
      bool listed = false;
      switch (category) {
        case 0:
          listed = enabled == 'O' || enabled == 't';
          break;
        case 1:
          listed = (enabled == 'D' || enabled == 'f') && !internal;
          break;
        case 2:
          listed = (enabled == 'D' || enabled == 'f') && internal;
          break;
        case 3:
          listed = enabled == 'A';
          break;
        default:
          listed = enabled == 'R';
          break;
      }
      if (!listed) continue;
      if (!heading) {
        t.footers.emplace_back(headings[category]);
        heading = true;
      }
      // Everything after "TRIGGER" is echoed verbatim.
      std::string def = value(x, i, 1);
      if (auto pos = def.find(" TRIGGER "); pos != std::string::npos) def = def.substr(pos + 9);
      std::string f = "    " + def;
      if (!is_null(x, i, 4)) f += ", ON TABLE " + value(x, i, 4);
      t.footers.push_back(f);
    }
  }
  return true;
}

// Foreign server, parents, children, typed-table type and tablespace of a table.
bool add_table_tail_footers(catalog_client& c, table& t, const std::string& oid,
                            const table_info& info) {
  const std::string q = quote_oid(oid);
  if (info.relkind == 'f') {
    pg_result r = c.query(
        "SELECT s.srvname,\n"
        "  pg_catalog.array_to_string(ARRAY(\n"
        "    SELECT pg_catalog.quote_ident(option_name) || ' ' || "
        "pg_catalog.quote_literal(option_value)\n"
        "    FROM pg_catalog.pg_options_to_table(ftoptions)),  ', ')\n"
        "FROM pg_catalog.pg_foreign_table f,\n"
        "     pg_catalog.pg_foreign_server s\n"
        "WHERE f.ftrelid = " +
        q + " AND s.oid = f.ftserver;");
    if (!r || PQntuples(r.get()) != 1) return false;
    t.footers.push_back("Server: " + value(r.get(), 0, 0));
    if (!value(r.get(), 0, 1).empty())
      t.footers.push_back("FDW options: (" + value(r.get(), 0, 1) + ")");
  }

  pg_result r = c.query(
      "SELECT c.oid::pg_catalog.regclass\n"
      "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n"
      "WHERE c.oid = i.inhparent AND i.inhrelid = " +
      q +
      "\n"
      "  AND c.relkind != 'p' AND c.relkind != 'I'\n"
      "ORDER BY inhseqno;");
  if (!r) return false;
  const PGresult* x = r.get();
  for (int i = 0; i < PQntuples(x); ++i) {
    std::string f = i == 0 ? "Inherits: " + value(x, i, 0) : "          " + value(x, i, 0);
    if (i < PQntuples(x) - 1) f += ',';
    t.footers.push_back(f);
  }

  r = c.query(std::string("SELECT c.oid::pg_catalog.regclass, c.relkind, ") +
              (c.server_version() >= 140000 ? "inhdetachpending" : "false AS inhdetachpending") +
              ", pg_catalog.pg_get_expr(c.relpartbound, c.oid)\n"
              "FROM pg_catalog.pg_class c, pg_catalog.pg_inherits i\n"
              "WHERE c.oid = i.inhrelid AND i.inhparent = " +
              q +
              "\n"
              "ORDER BY pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT', "
              "c.oid::pg_catalog.regclass::pg_catalog.text;");
  if (!r) return false;
  const int children = PQntuples(r.get());
  if (info.relkind == 'p' && children == 0)
    t.footers.emplace_back("Number of partitions: 0");
  else if (children > 0)
    t.footers.push_back(
        (info.relkind == 'p' ? "Number of partitions: " : "Number of child tables: ") +
        std::to_string(children) + " (Use \\d+ to list them.)");

  if (!info.reloftype.empty()) t.footers.push_back("Typed table of type: " + info.reloftype);
  add_tablespace_footer(c, t, info.relkind, info.tablespace, true);
  return true;
}

bool describe_one(catalog_client& c, const std::string& oid, const std::string& schema,
                  const std::string& name) {
  const std::string q = quote_oid(oid);
  pg_result res = c.query(
      "SELECT c.relchecks, c.relkind, c.relhasindex, c.relhasrules, c.relhastriggers, "
      "c.relrowsecurity, c.relforcerowsecurity, false AS relhasoids, c.relispartition, '', "
      "c.reltablespace, CASE WHEN c.reloftype = 0 THEN '' ELSE "
      "c.reloftype::pg_catalog.regtype::pg_catalog.text END, c.relpersistence, c.relreplident, "
      "am.amname\n"
      "FROM pg_catalog.pg_class c\n"
      " LEFT JOIN pg_catalog.pg_class tc ON (c.reltoastrelid = tc.oid)\n"
      "LEFT JOIN pg_catalog.pg_am am ON (c.relam = am.oid)\n"
      "WHERE c.oid = " +
      q + ";");
  if (!res) return false;
  if (PQntuples(res.get()) == 0) {
    c.error("Did not find any relation with OID " + oid + ".");
    return false;
  }
  table_info info;
  {
    const PGresult* x = res.get();
    info.checks = std::atoi(PQgetvalue(x, 0, 0));
    info.relkind = value(x, 0, 1).c_str()[0];
    info.hasindex = is_true(x, 0, 2);
    info.hasrules = is_true(x, 0, 3);
    info.hastriggers = is_true(x, 0, 4);
    info.rowsecurity = is_true(x, 0, 5);
    info.forcerowsecurity = is_true(x, 0, 6);
    info.ispartition = is_true(x, 0, 8);
    info.tablespace = value(x, 0, 10);
    info.reloftype = value(x, 0, 11);
    info.relpersistence = value(x, 0, 12).c_str()[0];
  }

  if (info.relkind == 'S') return describe_sequence(c, oid, schema, name, info);

  const char k = info.relkind;
  const bool details = k == 'r' || k == 'v' || k == 'm' || k == 'f' || k == 'c' || k == 'p';
  const bool index = k == 'i' || k == 'I';
  std::string sql = "SELECT a.attname,\n  pg_catalog.format_type(a.atttypid, a.atttypmod)";
  if (details)
    sql +=
        ",\n  (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true)\n"
        "   FROM pg_catalog.pg_attrdef d\n"
        "   WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef),\n"
        "  a.attnotnull,\n"
        "  (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t\n"
        "   WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> "
        "t.typcollation) AS attcollation,\n"
        "  a.attidentity,\n"
        "  a.attgenerated";
  if (index)
    sql +=
        ",\n  CASE WHEN a.attnum <= (SELECT i.indnkeyatts FROM pg_catalog.pg_index i WHERE "
        "i.indexrelid = " +
        q +
        ") THEN 'yes' ELSE 'no' END AS is_key,\n"
        "  pg_catalog.pg_get_indexdef(a.attrelid, a.attnum, TRUE) AS indexdef";
  if (k == 'f')
    sql +=
        ",\n  CASE WHEN attfdwoptions IS NULL THEN '' ELSE   '(' || "
        "pg_catalog.array_to_string(ARRAY(SELECT pg_catalog.quote_ident(option_name) || ' ' || "
        "pg_catalog.quote_literal(option_value)  FROM   "
        "pg_catalog.pg_options_to_table(attfdwoptions)), ', ') || ')' END AS attfdwoptions";
  sql += "\nFROM pg_catalog.pg_attribute a\nWHERE a.attrelid = " + q +
         " AND a.attnum > 0 AND NOT a.attisdropped\nORDER BY a.attnum;";
  res = c.query(sql);
  if (!res) return false;
  const PGresult* cols = res.get();

  table t;
  t.title = title_for(info, schema, name);
  t.default_footer = false;
  t.headers = {"Column", "Type"};
  if (details) t.headers.insert(t.headers.end(), {"Collation", "Nullable", "Default"});
  if (index) t.headers.insert(t.headers.end(), {"Key?", "Definition"});
  if (k == 'f') t.headers.emplace_back("FDW options");
  t.aligns.assign(t.headers.size(), alignment::left);
  for (int i = 0; i < PQntuples(cols); ++i) {
    auto& row = t.rows.emplace_back();
    row.emplace_back(value(cols, i, 0));
    row.emplace_back(value(cols, i, 1));
    int next = 2;
    if (details) {
      row.emplace_back(value(cols, i, 4));
      row.emplace_back(is_true(cols, i, 3) ? "not null" : "");
      const std::string identity = value(cols, i, 5);
      const std::string generated = value(cols, i, 6);
      if (identity == "a")
        row.emplace_back("generated always as identity");
      else if (identity == "d")
        row.emplace_back("generated by default as identity");
      else if (generated == "s")
        row.emplace_back("generated always as (" + value(cols, i, 2) + ") stored");
      else
        row.emplace_back(value(cols, i, 2));
      next = 7;
    }
    if (index) {
      row.emplace_back(value(cols, i, next));
      row.emplace_back(value(cols, i, next + 1));
      next += 2;
    }
    if (k == 'f') row.emplace_back(value(cols, i, next));
  }

  if (info.ispartition) {
    pg_result r =
        c.query(std::string("SELECT inhparent::pg_catalog.regclass,\n"
                            "  pg_catalog.pg_get_expr(c.relpartbound, c.oid),\n  ") +
                (c.server_version() >= 140000 ? "inhdetachpending" : "false as inhdetachpending") +
                "\nFROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON c.oid "
                "= inhrelid\nWHERE c.oid = " +
                q + ";");
    if (!r) return false;
    if (PQntuples(r.get()) > 0)
      t.footers.push_back("Partition of: " + value(r.get(), 0, 0) + " " + value(r.get(), 0, 1) +
                          (is_true(r.get(), 0, 2) ? " DETACH PENDING" : ""));
  }
  if (k == 'p') {
    pg_result r = c.query("SELECT pg_catalog.pg_get_partkeydef(" + q + "::pg_catalog.oid);");
    if (!r) return false;
    if (PQntuples(r.get()) == 1) t.footers.push_back("Partition key: " + value(r.get(), 0, 0));
  }

  const bool tableish = k == 'r' || k == 'm' || k == 'f' || k == 'p';
  if (index) {
    if (!add_index_footer(c, t, oid, schema, info)) return false;
  } else if (tableish) {
    if (!add_table_footers(c, t, oid, info)) return false;
  }
  if (info.hastriggers && !add_trigger_footers(c, t, oid)) return false;
  if (tableish && !add_table_tail_footers(c, t, oid, info)) return false;

  c.print(t, false);
  return true;
}

}  // namespace

table to_table(const PGresult* result, std::string title) {
  table t;
  t.title = std::move(title);
  const int ncols = PQnfields(result);
  for (int c = 0; c < ncols; ++c) {
    t.headers.emplace_back(PQfname(result, c));
    t.aligns.push_back(column_alignment(PQftype(result, c)));
  }
  const int nrows = PQntuples(result);
  t.rows.reserve(static_cast<std::size_t>(nrows));
  for (int r = 0; r < nrows; ++r) {
    auto& row = t.rows.emplace_back();
    row.reserve(static_cast<std::size_t>(ncols));
    for (int c = 0; c < ncols; ++c) {
      if (PQgetisnull(result, r, c) != 0)
        row.emplace_back(std::nullopt);
      else
        row.emplace_back(std::string(PQgetvalue(result, r, c),
                                     static_cast<std::size_t>(PQgetlength(result, r, c))));
    }
  }
  return t;
}

bool list_databases(catalog_client& c, const std::optional<std::string>& pattern) {
  const int v = c.server_version();
  std::string sql =
      "SELECT d.datname as \"Name\",\n"
      "       pg_catalog.pg_get_userbyid(d.datdba) as \"Owner\",\n"
      "       pg_catalog.pg_encoding_to_char(d.encoding) as \"Encoding\",\n"
      "       d.datcollate as \"Collate\",\n"
      "       d.datctype as \"Ctype\",\n";
  if (v >= 170000)
    sql +=
        "       d.datlocale as \"ICU Locale\",\n"
        "       CASE d.datlocprovider WHEN 'b' THEN 'builtin' WHEN 'c' THEN 'libc' WHEN 'i' "
        "THEN 'icu' END AS \"Locale Provider\",\n";
  else if (v >= 150000)
    sql +=
        "       d.daticulocale as \"ICU Locale\",\n"
        "       CASE d.datlocprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' END AS \"Locale "
        "Provider\",\n";
  sql +=
      "       pg_catalog.array_to_string(d.datacl, E'\\n') AS \"Access privileges\"\n"
      "FROM pg_catalog.pg_database d\n";
  if (!add_pattern(c, sql, pattern, false, "", "d.datname", "", 1)) return false;
  sql += "ORDER BY 1;";
  pg_result r = c.query(sql);
  if (!r) return false;
  c.print(to_table(r.get(), "List of databases"), true);
  return true;
}

bool list_tables(catalog_client& c, const std::string& kinds,
                 const std::optional<std::string>& pattern, bool system) {
  auto has = [&](char k) { return kinds.find(k) != std::string::npos; };
  std::string sql =
      "SELECT n.nspname as \"Schema\",\n"
      "  c.relname as \"Name\",\n"
      "  CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized "
      "view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN "
      "'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned "
      "index' END as \"Type\",\n"
      "  pg_catalog.pg_get_userbyid(c.relowner) as \"Owner\"";
  if (has('i')) sql += ",\n  c2.relname as \"Table\"";
  sql +=
      "\nFROM pg_catalog.pg_class c\n"
      "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n"
      "     LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam\n";
  if (has('i'))
    sql +=
        "     LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = c.oid\n"
        "     LEFT JOIN pg_catalog.pg_class c2 ON i.indrelid = c2.oid\n";
  sql += "WHERE c.relkind IN (";
  const bool wide = system || pattern.has_value();
  if (has('t')) sql += wide ? "'r','p','t'," : "'r','p',";
  if (has('v')) sql += "'v',";
  if (has('m')) sql += "'m',";
  if (has('i')) sql += "'i','I',";
  if (has('s')) sql += "'S',";
  if (wide) sql += "'s',";
  if (has('E')) sql += "'f',";
  sql += "'')\n";
  if (!wide)
    sql +=
        "      AND n.nspname <> 'pg_catalog'\n"
        "      AND n.nspname !~ '^pg_toast'\n"
        "      AND n.nspname <> 'information_schema'\n";
  if (!add_pattern(c, sql, pattern, true, "n.nspname", "c.relname",
                   "pg_catalog.pg_table_is_visible(c.oid)", 3))
    return false;
  sql += "ORDER BY 1,2;";
  pg_result r = c.query(sql);
  if (!r) return false;
  if (PQntuples(r.get()) == 0) {
    c.error(pattern ? "Did not find any relation named \"" + *pattern + "\"."
                    : std::string("Did not find any relations."));
    return true;
  }
  c.print(to_table(r.get(), "List of relations"), true);
  return true;
}

bool describe_relations(catalog_client& c, const std::string& pattern) {
  std::string sql =
      "SELECT c.oid,\n"
      "  n.nspname,\n"
      "  c.relname\n"
      "FROM pg_catalog.pg_class c\n"
      "     LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace\n";
  if (!add_pattern(c, sql, pattern, false, "n.nspname", "c.relname",
                   "pg_catalog.pg_table_is_visible(c.oid)", 3))
    return false;
  sql += "ORDER BY 2, 3;";
  pg_result r = c.query(sql);
  if (!r) return false;
  if (PQntuples(r.get()) == 0) {
    c.error("Did not find any relation named \"" + pattern + "\".");
    return false;
  }
  for (int i = 0; i < PQntuples(r.get()); ++i)
    if (!describe_one(c, value(r.get(), i, 0), value(r.get(), i, 1), value(r.get(), i, 2)))
      return false;
  return true;
}

bool describe_roles(catalog_client& c, const std::optional<std::string>& pattern, bool system) {
  std::string sql =
      "SELECT r.rolname, r.rolsuper, r.rolinherit,\n"
      "  r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,\n"
      "  r.rolconnlimit, r.rolvaliduntil,\n"
      "  ARRAY(SELECT b.rolname\n"
      "        FROM pg_catalog.pg_auth_members m\n"
      "        JOIN pg_catalog.pg_roles b ON (m.roleid = b.oid)\n"
      "        WHERE m.member = r.oid) as memberof\n"
      ", r.rolreplication\n"
      ", r.rolbypassrls\n"
      "FROM pg_catalog.pg_roles r\n";
  if (!system && !pattern) sql += "WHERE r.rolname !~ '^pg_'\n";
  if (!add_pattern(c, sql, pattern, false, "", "r.rolname", "", 1)) return false;
  sql += "ORDER BY 1;";
  pg_result r = c.query(sql);
  if (!r) return false;
  const PGresult* x = r.get();

  table t;
  t.title = "List of roles";
  t.headers = {"Role name", "Attributes", "Member of"};
  t.aligns.assign(3, alignment::left);
  t.default_footer = false;
  for (int i = 0; i < PQntuples(x); ++i) {
    std::string attrs;
    auto add = [&](const char* a) {
      if (!attrs.empty()) attrs += ", ";
      attrs += a;
    };
    if (is_true(x, i, 1)) add("Superuser");
    if (!is_true(x, i, 2)) add("No inheritance");
    if (is_true(x, i, 3)) add("Create role");
    if (is_true(x, i, 4)) add("Create DB");
    if (!is_true(x, i, 5)) add("Cannot login");
    if (is_true(x, i, 9)) add("Replication");
    if (is_true(x, i, 10)) add("Bypass RLS");
    const int conns = std::atoi(PQgetvalue(x, i, 6));
    if (conns >= 0) {
      if (!attrs.empty()) attrs += '\n';
      attrs += conns == 0 ? std::string("No connections")
                          : std::to_string(conns) + (conns == 1 ? " connection" : " connections");
    }
    if (!value(x, i, 7).empty()) {
      if (!attrs.empty()) attrs += '\n';
      attrs += "Password valid until " + value(x, i, 7);
    }
    t.rows.push_back({value(x, i, 0), attrs, value(x, i, 8)});
  }
  c.print(t, true);
  return true;
}

}  // namespace apono::launchers::shell
