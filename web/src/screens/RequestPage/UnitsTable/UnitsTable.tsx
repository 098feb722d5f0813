// A request's access units, one per (resource, permission), each with its own status and the
// last error the broker met granting or removing it (`apono requests describe`'s table); one
// card per unit on a phone.
import type { AccessRequest } from '../../../api/types';
import { StatusBadge } from '../../../components/StatusBadge/StatusBadge';
import { TableWrap } from '../../../components/TableWrap/TableWrap';
import './UnitsTable.css';

export function UnitsTable({ r }: { r: AccessRequest }) {
  const bundle = !!r.bundle;
  return (
    <TableWrap label={`Access units of ${r.id}`}>
      <table class="table units-table" data-testid="units-table">
        <caption class="visually-hidden">Access units of {r.id}</caption>
        <thead>
          <tr>
            {bundle && <th scope="col">Integration</th>}
            <th scope="col">Resource</th>
            <th scope="col">Permission</th>
            <th scope="col">Status</th>
            <th scope="col">Last error</th>
          </tr>
        </thead>
        <tbody>
          {r.units.map((u) => (
            <tr key={u.id} data-testid={`unit-${u.resource}-${u.permission}`}>
              {bundle && <td data-label="Integration">{u.integration}</td>}
              <td data-label="Resource" class="wrap-anywhere">
                {u.resource}
              </td>
              <td data-label="Permission">{u.permission}</td>
              <td data-label="Status">
                <StatusBadge status={u.status} />
              </td>
              <td data-label="Last error" class="wrap-anywhere">
                {u.last_error}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
