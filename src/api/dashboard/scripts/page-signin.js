// The sign-in page: email and password, errors inline, and after a 429 a countdown that
// keeps the button disabled until the server will listen again. The alert announces the wait
// once; the seconds tick in a separate line that is not a live region, so a screen reader is
// not interrupted every second.

function renderSignIn(root, { notice, onSignedIn }) {
  let countdown = null;
  const info = notice ? h('div', { class: 'alert alert-info', role: 'status' }, notice) : null;
  const error = h('div', { class: 'alert alert-error', role: 'alert', id: 'signin-error', hidden: true });
  const email = h('input', {
    id: 'signin-email',
    name: 'username',
    type: 'email',
    required: true,
    autocomplete: 'username',
    autocapitalize: 'none',
    spellcheck: 'false',
  });
  const password = h('input', {
    id: 'signin-password',
    name: 'password',
    type: 'password',
    required: true,
    autocomplete: 'current-password',
  });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'signin-submit' }, 'Sign in');
  const wait = h('p', { class: 'muted small', id: 'signin-countdown', hidden: true });

  const showError = (text) => {
    error.textContent = text;
    error.hidden = !text;
  };

  const secondsText = (n) => `${n} second${n === 1 ? '' : 's'}`;
  const startCountdown = (seconds) => {
    clearInterval(countdown);
    let left = Math.max(1, seconds);
    showError(`Too many sign-in attempts. Try again in ${secondsText(left)}.`);
    const tick = () => {
      if (!wait.isConnected) {
        clearInterval(countdown);
        return;
      }
      if (left <= 0) {
        clearInterval(countdown);
        wait.hidden = true;
        submit.disabled = false;
        showError('You can try again now.');
        return;
      }
      wait.textContent = `Sign-in opens again in ${secondsText(left)}.`;
      wait.hidden = false;
      left -= 1;
    };
    submit.disabled = true;
    tick();
    countdown = setInterval(tick, 1000);
  };

  const form = h(
    'form',
    { class: 'stack', novalidate: false },
    error,
    h('div', { class: 'field' }, h('label', { for: 'signin-email' }, 'Email'), email),
    h('div', { class: 'field' }, h('label', { for: 'signin-password' }, 'Password'), password),
    submit,
    wait,
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    showError('');
    busy(submit, true);
    try {
      await signIn(email.value.trim(), password.value);
      password.value = '';
      await onSignedIn();
    } catch (err) {
      busy(submit, false);
      if (err instanceof ApiError && err.status === 429) {
        startCountdown(err.retryAfter || 1);
      } else {
        showError(describe(err));
        password.select();
      }
    }
  });

  root.replaceChildren(
    h(
      'main',
      { class: 'auth-page' },
      h(
        'div',
        { class: 'auth-card' },
        h(
          'p',
          { class: 'brand' },
          h('img', { src: '/dashboard/assets/icon.svg', alt: '', width: '28', height: '28' }),
          h('span', {}, 'shipstar'),
        ),
        h('h1', {}, 'Sign in'),
        info,
        form,
      ),
    ),
  );
  document.title = 'Sign in · shipstar';
  email.focus();
}
