/**
 * The payment provider's hosted checkout for one order: `PAYMENT_CHECKOUT_URL` with the order id,
 * amount (minor units), currency, a description and the URL the buyer comes back to, in the
 * query (`order`, `amount`, `currency`, `description`, `return`). The buyer page sends buyers
 * there; the payment reminder links to it.
 */
export const checkoutLink = (
  checkoutUrl: string,
  order: { id: string; amount: number; currency: string; description: string },
  returnUrl: string,
): string => {
  const url = new URL(checkoutUrl);
  url.searchParams.set('order', order.id);
  url.searchParams.set('amount', String(order.amount));
  url.searchParams.set('currency', order.currency);
  url.searchParams.set('description', order.description);
  url.searchParams.set('return', returnUrl);
  return url.toString();
};
