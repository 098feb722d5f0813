// A failed call, with the broker's message as it was written; read out at once.
import { messageOf } from '../../api/client';
import './ErrorMessage.css';

export function ErrorMessage({ error, testId }: { error: unknown; testId?: string }) {
  if (!error) return null;
  return (
    <p class="error-message" role="alert" data-testid={testId ?? 'error'}>
      {messageOf(error)}
    </p>
  );
}
